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

// A JWT's claims as an hf1 token's: sub, device, exp, kid, iat.
function jwtClaims(parts) {
  const json = (part) => JSON.parse(new TextDecoder().decode(fromBase64url(part)));
  const header = json(parts[0]);
  const body = json(parts[1]);
  const claims = { account: body.sub, device: body.device, expiresAt: body.exp, keyId: header.kid };
  if (typeof body.iat === 'number') claims.issuedAtMs = body.iat * 1000;
  return claims;
}

// {account, device, expiresAt (unix seconds), keyId, issuedAtMs (unix ms,
// if the token has it)} of an hf1 token or a JWT (sub, device, exp, kid,
// iat); throws a TypeError on anything that is neither.
export function tokenClaims(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new TypeError('not a handoff token (hf1.claims.mac, or a JWT)');
  try {
    const claims = parts[0] === 'hf1' ? parseFields(fromBase64url(parts[1]), CLAIM_TAGS) : jwtClaims(parts);
    if (typeof claims.account === 'string' && typeof claims.device === 'string') return claims;
  } catch {
    // falls through to the same error as a token without the claims
  }
  throw new TypeError('the token has no account and device claims');
}
