import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

describe('schedule ids made only of dots', () => {
  it('are refused with a 400-style ValidationError naming id', async () => {
    const { validateScheduleId } = await import('../src/schedules.js');
    const { ValidationError } = await import('../src/errors.js');
    for (const id of ['.', '..', '...']) {
      assert.throws(() => validateScheduleId(id), (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.equal(err.details[0]?.field, 'id');
        assert.match(err.message, /only dots/);
        return true;
      }, id);
    }
    assert.doesNotThrow(() => validateScheduleId('v1.2'));
  });
});
