// Reading a token's claims (docs/protocol.md section 6) without the secret:
// a page shows which account and device it is, and asks its backend for a
// fresh token before expiresAt. Only the server can tell a token is genuine.
import { parseFields } from './frames.js';

const CLAIM_TAGS = {
  1: ['account', 's'], 2: ['device', 's'], 3: ['expiresAt', 'u'], 4: ['keyId', 's'], 5: ['issuedAtMs', 'u'],
};

function fromBase64url(text) {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

// {account, device, expiresAt (unix seconds), keyId, issuedAtMs (unix ms,
// if the token has it)}; throws a TypeError
// on anything that is not an hf1 token.
export function tokenClaims(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3 || parts[0] !== 'hf1') throw new TypeError('not a handoff token (hf1.claims.mac)');
  try {
    const claims = parseFields(fromBase64url(parts[1]), CLAIM_TAGS);
    if (claims.account && claims.device) return claims;
  } catch {
    // falls through to the same error as a token without the claims
  }
  throw new TypeError('the token has no account and device claims');
}
