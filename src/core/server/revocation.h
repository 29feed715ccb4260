// A device's revocation (docs/protocol.md, section 6): after its token
// checks out, HELLO asks the store whether the device is revoked or the
// token issued before the revocation. A store that cannot say (a Redis
// failover) does not keep devices out: the device is admitted unchecked,
// gets and sends nothing, and is asked about again every
// delivery.store_retry until the store answers, then cut if revoked.
#pragma once

struct hf_session;

enum class hf_revocation_verdict { admitted, revoked, unknown };

// Asks the store about s (whose token issued_at_ms is s->issued_at_ms);
// done hears the verdict once, if s's connection is still open then.
void hf_revocation_check(hf_session *s, void (*done)(hf_session *s, hf_revocation_verdict verdict));

// s was admitted unchecked: asks again until the store answers.
void hf_revocation_recheck_later(hf_session *s);
