export { HandoffClient, HandoffError } from './client.js';
export { encodeFrame, decodeFrames, TYPE, STATUS, ERRORS } from './frames.js';
export { tokenClaims } from './token.js';
export { PushKeys, isE2e } from './push.js';
