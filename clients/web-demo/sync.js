// Carries the bookmark list's operations between the account's devices
// over a HandoffClient, as JSON payloads sent to '*', end to end (each
// device's copy encrypted to it and signed). An operation waits in
// an outbox kept in storage until the relay has taken it (delivered, or
// stored for the devices that are away), so one made offline, or just
// before the page was closed, goes out the next time the page runs.

// Refusals that a later try can get past (protocol.md section 7).
const RETRY = new Set(['rate_limited', 'queue_full', 'store_full', 'store_unavailable']);
const RETRY_MS = 5000;

export class BookmarkSync extends EventTarget {
  #client; #list; #storage; #key; #outbox;

  // key: where the outbox is kept (one per account and device).
  constructor(client, list, storage, key) {
    super();
    this.#client = client;
    this.#list = list;
    this.#storage = storage;
    this.#key = key;
    this.#outbox = JSON.parse(storage.getItem(key) || '[]');
  }

  start() {
    this.#client.addEventListener('message', (event) => this.#received(event.detail));
    for (const entry of this.#outbox) this.#send(entry);
    if (this.#list.isNew) {
      // A device that has never run asks the others for what they have.
      this.publish({ op: 'sync' });
      this.#list.save();
    }
  }

  get waiting() {
    return this.#outbox.length;
  }

  // Applies an operation made here and sends it (to: '*' or one device).
  publish(op, to = '*') {
    const entry = { key: crypto.randomUUID(), to, op };
    this.#outbox.push(entry);
    this.#saveOutbox();
    this.#send(entry);
  }

  #send(entry) {
    this.#client.send(entry.to, JSON.stringify(entry.op), { e2e: true }).then(
      (result) => this.#done(entry, result),
      (error) => {
        if (error.code === 'stopped') return; // still in the outbox for next time
        if (RETRY.has(error.code)) {
          setTimeout(() => this.#send(entry), error.retryMs || RETRY_MS);
          return;
        }
        // no_target: the account has no other device yet; the snapshot a
        // new one asks for will carry this. Anything else will not improve.
        this.#done(entry, error.code);
      });
  }

  #done(entry, result) {
    this.#outbox = this.#outbox.filter((e) => e.key !== entry.key);
    this.#saveOutbox();
    this.dispatchEvent(new CustomEvent('sent', { detail: { op: entry.op, result } }));
  }

  #received(message) {
    const text = message.text();
    let op;
    try {
      op = JSON.parse(text);
    } catch {
      // Plain text from another kind of device (`handoff send --to '*' URL`):
      // a URL becomes a bookmark whose id is the message's, so a
      // redelivery is not a second bookmark.
      op = { op: 'add', bookmark: { id: `${message.from}#${message.id}`, url: text.trim(), addedBy: message.from } };
    }
    // What came end to end says so on its bookmarks (the lock); plain text
    // from another kind of device, or a backend, does not.
    if (message.e2e && op?.op === 'add') op.bookmark = { ...op.bookmark, e2e: true };
    if (message.e2e && op?.op === 'snapshot') op.bookmarks = (op.bookmarks || []).map((b) => ({ ...b, e2e: true }));
    if (op?.op === 'sync') {
      this.publish(this.#list.snapshot(), message.from);
      return;
    }
    if (this.#list.apply(op)) this.dispatchEvent(new CustomEvent('changed', { detail: { from: message.from } }));
  }

  #saveOutbox() {
    this.#storage.setItem(this.#key, JSON.stringify(this.#outbox));
  }
}
