// The demo's state: bookmarks by id, and the ids removed so that an "add"
// arriving late (stored while this device was away) does not bring a
// removed bookmark back. Every device applies the same operations, in any
// order and any number of times, and ends with the same list.

const isWebUrl = (url) => /^https?:\/\//i.test(url);

export class BookmarkList {
  #storage; #key; #bookmarks = new Map(); #removed = new Set();

  // storage: a Web Storage (localStorage); key: where this device keeps
  // its list (one per account and device, so two tabs can be two devices).
  constructor(storage, key) {
    this.#storage = storage;
    this.#key = key;
    const saved = JSON.parse(storage.getItem(key) || 'null');
    this.isNew = !saved;
    for (const b of saved?.bookmarks || []) this.#bookmarks.set(b.id, b);
    for (const id of saved?.removed || []) this.#removed.add(id);
  }

  // Newest first.
  get items() {
    return [...this.#bookmarks.values()].sort((a, b) => b.addedAt - a.addedAt);
  }

  // A new bookmark made here; returns the operation to send.
  add(url, title, device) {
    if (!isWebUrl(url)) throw new TypeError('a bookmark is an http:// or https:// URL');
    const bookmark = { id: crypto.randomUUID(), url, title: title || url, addedAt: Date.now(), addedBy: device };
    const op = { op: 'add', bookmark };
    this.apply(op);
    return op;
  }

  remove(id) {
    const op = { op: 'remove', id };
    this.apply(op);
    return op;
  }

  // Everything, for a device that has just joined.
  snapshot() {
    return { op: 'snapshot', bookmarks: this.items, removed: [...this.#removed] };
  }

  // Applies an operation made here or received; true if the list changed.
  // Anything malformed (another device's bug, or a hostile one) is ignored.
  apply(op) {
    let changed = false;
    if (op?.op === 'add') changed = this.#add(op.bookmark);
    else if (op?.op === 'remove') changed = this.#remove(op.id);
    else if (op?.op === 'snapshot') {
      for (const id of op.removed || []) changed = this.#remove(id) || changed;
      for (const b of op.bookmarks || []) changed = this.#add(b) || changed;
    }
    if (changed) this.save();
    return changed;
  }

  #add(b) {
    if (!b || typeof b.id !== 'string' || typeof b.url !== 'string' || !isWebUrl(b.url)) return false;
    if (this.#bookmarks.has(b.id) || this.#removed.has(b.id)) return false;
    this.#bookmarks.set(b.id, {
      id: b.id, url: b.url, title: String(b.title || b.url), addedAt: Number(b.addedAt) || Date.now(),
      addedBy: String(b.addedBy || ''), e2e: b.e2e === true,
    });
    return true;
  }

  #remove(id) {
    if (typeof id !== 'string' || this.#removed.has(id)) return false;
    this.#removed.add(id);
    this.#bookmarks.delete(id);
    return true;
  }

  // Also called once a new device has asked the others for their lists.
  save() {
    this.#storage.setItem(this.#key, JSON.stringify({ bookmarks: this.items, removed: [...this.#removed] }));
    this.isNew = false;
  }
}
