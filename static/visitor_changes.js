/* What the visitor changed in a live app, kept in the page so that a rebuilt session gets it back.
 *
 * When the Bokeh process holding a page's session dies, BokehJS reconnects and another process
 * rebuilds the session from the page's token: the app's arguments come back, but the document is
 * the app's fresh one, with every widget at its default. This script keeps, per document, the
 * changes the page sent to the server (the `sync` model-property changes BokehJS makes when the
 * visitor moves a widget, zooms, selects, picks a tab), only the last value of each property of
 * each model, in the order they were last made, and at most MAX_CHANGES of them. After a
 * reconnect, it finds each changed model again in the rebuilt document and sets the property
 * there, as the page would: BokehJS sends each as an ordinary change, the server validates it as
 * it validates any change from the browser, and the app's own Python callbacks run and bring the
 * rest of the document (plots, tables, selections' consequences) to the same state.
 *
 * Model ids differ between two builds of the same app, so a model is found again by what is
 * stable: its path in the document's tree (from the roots, through the properties that reference
 * other models), its type, and its name; a named model is found by its name when the path no
 * longer leads to it. Only properties the page may set are kept (syncable, not read-only, such as
 * a plot's measured size), and only plain values (numbers, text, lists, maps): a change that sets
 * a reference to a model cannot be found again safely and is reported as not restored. A change
 * the server made since (the app set the same property itself) replaces the visitor's: the
 * visitor saw the server's value last. Models the visitor changed that had left the document
 * before the connection dropped (a plot the app replaced) are not replayed: they were no longer
 * shown.
 *
 * `live_session.js` calls this (`window.apertureVisitorChanges`): `watch(doc)` once per document,
 * `connectionLost(doc)` when its websocket drops, and `replay(doc, connection)` once BokehJS has
 * pulled the rebuilt document; the last answers which changes were restored and which were not.
 * Shared views are not watched: one document serves every viewer there, and a viewer's own
 * history replayed onto it would undo what the others did since.
 */
(function () {
  "use strict";

  // Changes kept per document (model and property): the oldest goes first.
  const MAX_CHANGES = 200;
  // A list or map longer than this (a selection of a whole large table, say) is not kept.
  const MAX_ITEMS = 100000;
  // How long the page waits for the server to have taken the replayed changes.
  const ROUND_TRIP_MS = 10000;
  const journals = new WeakMap();

  function isModel(value) {
    return (
      value != null &&
      typeof value === "object" &&
      typeof value.ref === "function" &&
      typeof value.syncable_properties === "function" &&
      value.properties !== undefined
    );
  }

  function containsModel(value, depth = 0) {
    if (value == null || typeof value !== "object" || ArrayBuffer.isView(value) || depth > 4) {
      return false;
    }
    if (isModel(value)) {
      return true;
    }
    const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : Object.values(value);
    return items.some((item) => containsModel(item, depth + 1));
  }

  function tooLarge(value) {
    const size = Array.isArray(value) || ArrayBuffer.isView(value) ? value.length : value instanceof Map ? value.size : 0;
    return size > MAX_ITEMS;
  }

  // A copy of a plain value, or undefined if it cannot be kept (a reference to a model, a function).
  function copyOf(value) {
    if (value === null || typeof value !== "object") {
      return typeof value === "function" ? undefined : value;
    }
    if (tooLarge(value) || containsModel(value)) {
      return undefined;
    }
    try {
      return structuredClone(value);
    } catch {
      return undefined;
    }
  }

  // Every model a property's value references, with the path step that leads to it.
  function eachModelIn(value, path, visit, depth = 0) {
    if (value == null || typeof value !== "object" || ArrayBuffer.isView(value) || depth > 4) {
      return;
    }
    if (isModel(value)) {
      visit(value, path);
    } else if (Array.isArray(value)) {
      // A data column: numbers or text, no model in it.
      if (value.length > 0 && (value[0] === null || typeof value[0] !== "object")) {
        return;
      }
      value.forEach((item, index) => eachModelIn(item, `${path}[${index}]`, visit, depth + 1));
    } else if (value instanceof Map) {
      for (const [key, item] of value) {
        eachModelIn(item, `${path}{${String(key)}}`, visit, depth + 1);
      }
    } else if (Object.getPrototypeOf(value) === Object.prototype) {
      for (const [key, item] of Object.entries(value)) {
        eachModelIn(item, `${path}{${key}}`, visit, depth + 1);
      }
    }
  }

  /* Each model reachable from `roots`, by its shortest path of references (the first found,
   * breadth first, properties in their defined order), both ways. Two builds of the same app
   * make the same tree, so a path names the same part of the app in both. */
  function treeOf(roots) {
    const pathOf = new Map();
    const atPath = new Map();
    const byName = new Map();
    const queue = [];
    const visit = (model, path) => {
      if (pathOf.has(model)) {
        return;
      }
      pathOf.set(model, path);
      atPath.set(path, model);
      if (typeof model.name === "string" && model.name !== "") {
        const key = `${model.type} ${model.name}`;
        byName.set(key, byName.has(key) ? null : model); // null: the name is not unique
      }
      queue.push(model);
    };
    roots.forEach((root, index) => visit(root, `root[${index}]`));
    for (let next = 0; next < queue.length; next++) {
      const model = queue[next];
      const base = pathOf.get(model);
      for (const prop of model.syncable_properties()) {
        if (prop.is_unset || prop.may_have_refs === false) {
          continue;
        }
        eachModelIn(prop.get_value(), `${base}/${prop.attr}`, visit);
      }
    }
    return { pathOf, atPath, byName };
  }

  // The model of the rebuilt document that stands where `model` stood, or null.
  function counterpart(model, path, rebuilt) {
    const name = typeof model.name === "string" && model.name !== "" ? model.name : null;
    const candidate = rebuilt.atPath.get(path);
    if (candidate !== undefined && candidate.type === model.type && (candidate.name || null) === name) {
      return candidate;
    }
    if (name !== null) {
      return rebuilt.byName.get(`${model.type} ${name}`) || null;
    }
    return null;
  }

  // How the notice names a change the rebuilt session did not take: the widget's title if it has one.
  function describe(model, attr) {
    const title = typeof model.title === "string" && model.title !== "" ? model.title : model.name;
    return title ? `${model.type} “${title}” (${attr})` : `${model.type} (${attr})`;
  }

  function settable(model, attr) {
    const prop = model.properties[attr];
    return prop !== undefined && prop.syncable && !prop.readonly;
  }

  class Journal {
    constructor(doc) {
      this.doc = doc;
      // `${model.id} ${attr}` -> {model, attr, value, interactive}, in the order last made.
      this.changes = new Map();
      this.rootsAtLoss = null;
    }

    record(event) {
      if (event.kind !== "ModelChanged" || !isModel(event.model)) {
        return;
      }
      const key = `${event.model.id} ${event.attr}`;
      this.changes.delete(key);
      // The server set it (the app's own callback): what the visitor saw last is the server's.
      if (!event.sync || !settable(event.model, event.attr)) {
        return;
      }
      this.changes.set(key, {
        model: event.model,
        attr: event.attr,
        value: copyOf(event.value),
        // A range the visitor zoomed or panned: the plot keeps it when the data changes.
        interactive: event.model.have_updated_interactively === true,
      });
      while (this.changes.size > MAX_CHANGES) {
        this.changes.delete(this.changes.keys().next().value);
      }
    }

    // The document the visitor saw when the connection dropped: what the changes are found in.
    lost() {
      if (this.rootsAtLoss === null) {
        this.rootsAtLoss = [...this.doc.roots()];
      }
    }

    /* Set every kept change on the rebuilt document, in order, and wait for the server to have
     * taken them (one round trip); returns {restored, failed}, `failed` naming each change the
     * rebuilt document lacks a place for or the server refused. */
    async replay(connection) {
      const oldRoots = this.rootsAtLoss;
      this.rootsAtLoss = null;
      const entries = [...this.changes.values()];
      // The replayed changes are recorded again, under the rebuilt models.
      this.changes.clear();
      const outcome = { restored: 0, failed: [] };
      if (oldRoots === null || entries.length === 0) {
        return outcome;
      }
      const before = treeOf(oldRoots);
      const rebuilt = treeOf([...this.doc.roots()]);
      const sent = new Map();
      const session = connection == null ? null : connection.session;
      const refused = watchRefusals(session, sent);
      const send = connection == null ? null : connection.send;
      let restored = 0;
      for (const entry of entries) {
        const path = before.pathOf.get(entry.model);
        if (path === undefined) {
          continue; // it had left the document the visitor saw
        }
        const label = describe(entry.model, entry.attr);
        const target = counterpart(entry.model, path, rebuilt);
        if (target === null || entry.value === undefined || !settable(target, entry.attr)) {
          outcome.failed.push(label);
          continue;
        }
        try {
          if (send !== null) {
            // The messages this change sends, to tell a refusal from the server apart.
            connection.send = (message, ...rest) => {
              sent.set(message.msgid(), label);
              return send.call(connection, message, ...rest);
            };
          }
          if (entry.interactive) {
            target.have_updated_interactively = true;
          }
          target.setv({ [entry.attr]: structuredClone(entry.value) });
          restored += 1;
        } catch (error) {
          console.warn(`live_session: could not restore ${label}: ${error}`);
          outcome.failed.push(label);
        } finally {
          if (send !== null) {
            delete connection.send;
          }
        }
      }
      if (session !== null && sent.size > 0) {
        try {
          // The server handles a connection's messages in order: its answer comes after theirs.
          // Not waited for forever: a server that does not answer leaves the outcome as sent.
          await Promise.race([
            session.request_server_info(),
            new Promise((resolve) => window.setTimeout(resolve, ROUND_TRIP_MS)),
          ]);
        } catch {
          // The connection dropped again: the next reconnect replays what was recorded since.
        }
      }
      refused.stop();
      outcome.restored = restored - refused.labels.length;
      outcome.failed.push(...refused.labels);
      return outcome;
    }
  }

  // Collects the server's ERROR replies to the messages in `sent` (msgid -> label) until stopped;
  // other errors are logged as BokehJS logs them.
  function watchRefusals(session, sent) {
    const labels = [];
    if (session == null || typeof session._handle_error !== "function") {
      return { labels, stop() {} };
    }
    const handleError = session._handle_error;
    session._handle_error = (message) => {
      const label = sent.get(message.reqid());
      if (label === undefined) {
        handleError.call(session, message);
      } else {
        console.warn(`live_session: the rebuilt session refused ${label}: ${message.content.text}`);
        labels.push(label);
      }
    };
    return {
      labels,
      stop() {
        delete session._handle_error;
      },
    };
  }

  function journalOf(doc) {
    return journals.get(doc);
  }

  window.apertureVisitorChanges = {
    watch(doc) {
      if (journals.has(doc)) {
        return;
      }
      const journal = new Journal(doc);
      journals.set(doc, journal);
      doc.on_change((event) => journal.record(event), false);
    },
    connectionLost(doc) {
      const journal = journalOf(doc);
      if (journal !== undefined) {
        journal.lost();
      }
    },
    async replay(doc, connection) {
      const journal = journalOf(doc);
      return journal === undefined ? { restored: 0, failed: [] } : journal.replay(connection);
    },
  };
})();
