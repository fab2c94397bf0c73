/**
 * What a center process run by the `npm start` supervisor sends it over IPC once its `start`
 * resolved. A child that exits before sending it could not start (a bad setting, its port taken),
 * and restarting it would only repeat the failure; the supervisor stops instead. How long the
 * child ran cannot tell this apart from a crash: under tsx on a busy machine a start takes longer
 * than any fixed guess (a server whose port was taken took over 3 s to say so, and was restarted
 * forever).
 */
export const STARTED_MESSAGE = 'job-center:started';
