/* The state of each live app in the page, said in the page: loading, connection lost and
 * reconnecting, back, or gone for good with a way to reload.
 *
 * BokehJS reconnects a dropped websocket by itself (a few attempts, further and further apart) and
 * the Bokeh process it reaches rebuilds the session from the page's token. What it does not do is
 * tell the visitor: a plot whose connection died looks exactly like a live one. This script
 * watches every session placeholder the site writes (`.bk-session`, see web/embedding/session_markup.py)
 * and the BokehJS documents in the page, and keeps a notice beside each app. It loads after
 * BokehJS, needs nothing inline, and does nothing on a page without live apps.
 *
 * In development (`make dev`, the script tag carries `data-reload-on-reconnect`, the site's health
 * URL) a Bokeh process restarts when an app's file is saved; once the app reconnects, and the
 * site's own probe sees the Bokeh server again (else the site would answer the reload with 503),
 * the page reloads, so that the site's page and the app both show the new code.
 *
 * A shared view (`data-shared`) is one document for everyone watching it; the server keeps the
 * number of viewers in a model of that document (bkruntime/shared_views.py), shown above the app as
 * "Shared view · N watching".
 *
 * A private app's websocket closed by the server because the visitor's login ended (close code
 * 4001) or the account may no longer open the app (4003: a role removed; bkruntime/login_sweep.py)
 * does not reconnect: the notice says so, and for a removed role lists the apps the visitor may
 * still open (from the site's /api/apps).
 *
 * A page meant to stay open for days (the wall, `data-live-renew="reload"` on its body) does not
 * wait for a visitor: once an app cannot come back (its token expired, or the retries ran out), it
 * asks the site's health route until the site answers and sees the Bokeh server, then reloads
 * itself, which mints fresh tokens for the same views.
 */
(function () {
  "use strict";

  const script = document.currentScript;
  const healthUrl = script === null ? null : script.getAttribute("data-reload-on-reconnect");

  // No document within this long: the app did not load (Bokeh down, origin refused, expired).
  const LOAD_GRACE_MS = 20000;
  // Lost and not back within this long after BokehJS's last announced attempt: offer a reload.
  const RESTORE_GRACE_MS = 15000;
  const POLL_MS = 250;
  const VIEWERS_MODEL = "aperture_viewers";
  const RENEW_RETRY_MS = 10000;
  const renewByReload = document.body.dataset.liveRenew === "reload";
  let renewing = false;

  const sessions = [...document.querySelectorAll(".bk-session")];
  if (sessions.length === 0) {
    return;
  }
  const LOGIN_ENDED = 4001;
  const ACCESS_ENDED = 4003;
  const visitorChanges = window.apertureVisitorChanges;
  const watchedDocuments = new WeakSet();
  const watchedElements = new Set();
  const elementsByDocument = new WeakMap();
  restoreWithBuffers();
  leaveChangesToTheNextPull();
  keepDocumentsApartOnReconnect();
  sayWhenTheLoginEnds();

  // One of BokehJS's internal modules' exports, or undefined if an upgrade moved it.
  function bokehExport(module, name) {
    try {
      return Bokeh.require(module)[name];
    } catch {
      return undefined;
    }
  }

  /* A restored document must keep its binary buffers (numpy arrays travel as such).
   *
   * On reconnect BokehJS pulls the document again and passes only its JSON to
   * `Document.replace_with_json`, dropping the reply's buffers: any column sent as a buffer then
   * fails with "buffer for id=... not found" and the plot stays dead (bokeh#15347, BokehJS 3.9;
   * 3.10 passes them itself, and then they are used). The first pull keeps them. So the pulled
   * reply's buffers are remembered beside its JSON, and the replacement is built with them, as the
   * first pull builds the document. If a BokehJS upgrade
   * moves either method, nothing is changed: such a restore fails as before and the page says
   * so and offers a reload (see `gone`).
   */
  function restoreWithBuffers() {
    const Document = bokehExport("document/document", "Document");
    const ClientConnection = bokehExport("client/connection", "ClientConnection");
    const pull = ClientConnection && ClientConnection.prototype._pull_doc_json;
    const replace = Document && Document.prototype.replace_with_json;
    if (typeof pull !== "function" || typeof replace !== "function" || typeof Document.from_json !== "function") {
      console.warn("live_session: BokehJS's document restore moved; documents with buffers cannot be restored");
      return;
    }
    if (replace.apertureKeepsBuffers) {
      return;
    }
    const pulledBuffers = new WeakMap();
    ClientConnection.prototype._pull_doc_json = async function (...args) {
      const pulled = await pull.apply(this, args);
      if (pulled && pulled.doc_json && pulled.buffers) {
        pulledBuffers.set(pulled.doc_json, pulled.buffers);
      }
      return pulled;
    };
    const replaceKeepingBuffers = function (json, buffers) {
      const replacement = Document.from_json(json, undefined, buffers || pulledBuffers.get(json));
      replacement.destructively_move(this);
    };
    replaceKeepingBuffers.apertureKeepsBuffers = true;
    Document.prototype.replace_with_json = replaceKeepingBuffers;
  }

  /* A change made while BokehJS's websocket reopens is left to the document pulled once it is open.
   *
   * While BokehJS has no websocket, `ClientConnection.send` drops a change with a logged line: the
   * reconnect pulls the whole document from the server and replaces the page's. Between the new
   * websocket's creation and its opening, though, `send` hands the change to a socket still
   * connecting, and the browser throws ("Still in CONNECTING state") out of whatever made it: a
   * widget the visitor moved, a plot's range. Such a change goes the way of one made without a
   * websocket; `visitor_changes.js` has kept it, and sets it again on the document pulled. If a
   * BokehJS upgrade moves `send`, nothing is changed.
   */
  function leaveChangesToTheNextPull() {
    const ClientConnection = bokehExport("client/connection", "ClientConnection");
    const send = ClientConnection && ClientConnection.prototype.send;
    if (typeof send !== "function" || send.apertureWaitsForOpen) {
      return;
    }
    const sendWhenOpen = function (message, ...rest) {
      const socket = this.socket;
      if (socket != null && socket.readyState === WebSocket.CONNECTING) {
        console.debug("live_session: a change made while the websocket reopens is left to the next pull");
        return;
      }
      if (this.apertureRepulling && message.msgtype() === "PATCH-DOC") {
        // A change of the document about to be replaced: the new session does not know its models.
        console.debug("live_session: a change of the replaced document is left to the next pull");
        return;
      }
      return send.call(this, message, ...rest);
    };
    sendWhenOpen.apertureWaitsForOpen = true;
    ClientConnection.prototype.send = sendWhenOpen;
  }

  /* A websocket the server closed because the login ended or lost the app stays closed, said.
   *
   * BokehJS would reconnect, be refused at the handshake, and end with "could not be restored".
   * The close code is only seen in `ClientConnection._on_close`; if a BokehJS upgrade moves it,
   * nothing is changed and the page says the app could not be restored, as before.
   */
  function sayWhenTheLoginEnds() {
    const ClientConnection = bokehExport("client/connection", "ClientConnection");
    const onClose = ClientConnection && ClientConnection.prototype._on_close;
    if (typeof onClose !== "function" || onClose.apertureSaysLoginEnded) {
      return;
    }
    const onCloseSayingWhy = function (event, ...rest) {
      if (event && (event.code === LOGIN_ENDED || event.code === ACCESS_ENDED)) {
        this.closed_permanently = true;
        const doc = this.session == null ? null : this.session.document;
        const element = doc == null ? null : elementsByDocument.get(doc) || elementOf(doc);
        if (element != null) {
          loginEnded(element, event.code);
        }
      }
      return onClose.call(this, event, ...rest);
    };
    onCloseSayingWhy.apertureSaysLoginEnded = true;
    ClientConnection.prototype._on_close = onCloseSayingWhy;
  }

  async function appsStillOpen() {
    try {
      const response = await fetch("/api/apps", { cache: "no-store", credentials: "same-origin" });
      const listing = await response.json();
      const apps = Array.isArray(listing) ? listing : listing.apps || [];
      return apps.filter((app) => app.access === "open").map((app) => app.title || app.name);
    } catch {
      return null;
    }
  }

  async function loginEnded(element, code) {
    if (code === LOGIN_ENDED) {
      say(element, "ended", "Your login has ended, so this app is closed. Log in again to use it.", true);
      return;
    }
    say(element, "ended", "Your account may no longer open this app, so it is closed.", false);
    const still = await appsStillOpen();
    if (still !== null) {
      const list = still.length > 0 ? `You may still open: ${still.join(", ")}.` : "No other app is open to you.";
      say(element, "ended", `Your account may no longer open this app, so it is closed. ${list}`, false);
    }
  }

  /* Nothing sent for one document reaches another across a reconnect.
   *
   * Once BokehJS's new websocket has its ACK, it pulls the rebuilt document, and until the reply
   * comes it applies every PATCH-DOC the new session sends to the page's old document, whose
   * models have other ids: "reference p2706 isn't known", thrown in the page. The pulled document
   * already holds those changes (the server answers a connection's messages in order), so they
   * are dropped, as BokehJS drops them before its first pull; so are the old document's own
   * changes meant for the new session (`leaveChangesToTheNextPull`). And BokehJS reads every
   * websocket through one message reader: a message the dead socket left half read would take
   * the new socket's first frames as its rest; each new socket gets a fresh reader. If a BokehJS
   * upgrade moves what this wraps, nothing is changed.
   */
  function keepDocumentsApartOnReconnect() {
    const ClientConnection = bokehExport("client/connection", "ClientConnection");
    const prototype = ClientConnection && ClientConnection.prototype;
    const connect = prototype && prototype.connect;
    const handle = prototype && prototype._steady_state_handler;
    const pull = prototype && prototype._pull_doc_json;
    if ([connect, handle, pull].some((method) => typeof method !== "function") || connect.apertureKeepsApart) {
      return;
    }
    const connectApart = function (...args) {
      if (this._receiver != null && typeof this._receiver.constructor === "function") {
        this._receiver = new this._receiver.constructor();
      }
      this.apertureRepulling = this.session != null;
      return connect.apply(this, args);
    };
    connectApart.apertureKeepsApart = true;
    prototype.connect = connectApart;
    prototype._steady_state_handler = function (message) {
      const reply = this._pending_replies != null && this._pending_replies.has(message.reqid());
      if (this.apertureRepulling && !reply && message.msgtype() === "PATCH-DOC") {
        return; // already in the document being pulled
      }
      return handle.call(this, message);
    };
    prototype._pull_doc_json = async function (...args) {
      const pulled = await pull.apply(this, args);
      // BokehJS replaces the document right after, before any other message is read.
      this.apertureRepulling = false;
      return pulled;
    };
  }

  function noticeFor(element) {
    let notice = element.previousElementSibling;
    if (notice === null || !notice.classList.contains("live-session-notice")) {
      notice = document.createElement("div");
      notice.className = "live-session-notice";
      notice.setAttribute("role", "status");
      notice.setAttribute("aria-live", "polite");
      element.parentElement.insertBefore(notice, element);
    }
    return notice;
  }

  function say(element, state, text, offerReload) {
    element.dataset.state = state;
    const notice = noticeFor(element);
    notice.dataset.state = state;
    notice.textContent = text;
    if (offerReload) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "live-session-reload";
      button.textContent = "Reload the page";
      button.addEventListener("click", () => window.location.reload());
      notice.append(" ", button);
    }
    notice.hidden = text === "";
  }

  function expired(element) {
    const expiresAt = Number(element.dataset.expiresAt || "0");
    return expiresAt > 0 && Date.now() / 1000 >= expiresAt;
  }

  function gone(element) {
    if (renewByReload) {
      say(element, "gone", "The live app is reconnecting with a fresh session…", false);
      reloadWhenServed(document.body.dataset.siteHealth || "/healthz", RENEW_RETRY_MS);
      return;
    }
    const reason = expired(element)
      ? "This page's live session has expired, so the app cannot reconnect."
      : "The live app could not be restored.";
    say(element, "gone", `${reason} Reload the page to start a fresh session.`, true);
  }

  async function bokehServed(url) {
    try {
      const response = await fetch(url, { cache: "no-store" });
      const health = await response.json();
      return response.ok && health.bokeh && health.bokeh.reachable === true;
    } catch {
      return false;
    }
  }

  // Reloads the page once the site answers and sees the Bokeh server (else the site would answer
  // the reload with 503): the wall's token renewal, and the dev loop's reload after a rebuild.
  function reloadWhenServed(url, retryMs) {
    if (renewing) {
      return;
    }
    renewing = true;
    const attempt = async () => {
      if (await bokehServed(url)) {
        window.location.reload();
      } else {
        window.setTimeout(attempt, retryMs);
      }
    };
    attempt();
  }

  /* An app is "live" once its connection is watched (`watchDocuments`), not as soon as BokehJS
   * draws into it: a connection lost before that would go unannounced, and so would the reconnect.
   */
  function watchLoading(element) {
    say(element, "loading", "Connecting to the live app…", false);
    const loaded = () => element.querySelector("*") !== null;
    const observer = new MutationObserver(() => {
      if (loaded()) {
        observer.disconnect();
        watchDocuments();
      }
    });
    observer.observe(element, { childList: true });
    window.setTimeout(() => {
      observer.disconnect();
      if (!loaded()) {
        gone(element);
      } else if (element.dataset.state === "loading") {
        // Drawn, but not by a document this script could match to it: still a live app.
        say(element, "live", "", false);
      }
    }, LOAD_GRACE_MS);
  }

  function elementOf(doc) {
    if (!window.Bokeh || !Bokeh.index) {
      return null;
    }
    for (const view of Bokeh.index.roots) {
      if (view.model.document === doc) {
        const element = sessions.find((candidate) => candidate.contains(view.el));
        if (element !== undefined) {
          return element;
        }
      }
    }
    return null;
  }

  // What the page says once a rebuilt session has taken the visitor's changes back (or not all).
  function reconnectedNotice(outcome) {
    if (outcome.failed.length > 0) {
      const named = outcome.failed.slice(0, 5).join(", ");
      const more = outcome.failed.length > 5 ? ` and ${outcome.failed.length - 5} more` : "";
      return `Reconnected; these settings of yours could not be restored: ${named}${more}.`;
    }
    return outcome.restored > 0 ? "Reconnected; your settings were restored." : "Reconnected.";
  }

  async function replayVisitorChanges(doc, connection) {
    if (visitorChanges === undefined) {
      return { restored: 0, failed: [] };
    }
    try {
      return await visitorChanges.replay(doc, connection);
    } catch (error) {
      console.warn(`live_session: restoring the visitor's settings failed: ${error}`);
      return { restored: 0, failed: ["your settings"] };
    }
  }

  function watchConnection(doc, element) {
    let giveUp = null;
    let connection = null;
    const cancelGiveUp = () => {
      if (giveUp !== null) {
        window.clearTimeout(giveUp);
        giveUp = null;
      }
    };
    doc.on_event("connection_lost", (_doc, event) => {
      cancelGiveUp();
      connection = event.connection != null && typeof event.connection.deref === "function" ? event.connection.deref() : null;
      if (visitorChanges !== undefined) {
        visitorChanges.connectionLost(doc);
      }
      if (event.timeout == null || expired(element)) {
        gone(element);
        return;
      }
      const seconds = Math.round(event.timeout / 1000);
      say(
        element,
        "reconnecting",
        seconds > 0
          ? `Connection to the live app lost; reconnecting in ${seconds} s…`
          : "Connection to the live app lost; reconnecting…",
        false,
      );
      // BokehJS announces each attempt; if the last one never comes back (the server refused the
      // token, or the restored document could not be read), say so instead of waiting forever.
      giveUp = window.setTimeout(() => gone(element), event.timeout + RESTORE_GRACE_MS);
    });
    doc.on_event("client_reconnected", async () => {
      cancelGiveUp();
      if (healthUrl !== null) {
        say(element, "reloading", "The app was rebuilt; reloading the page…", false);
        reloadWhenServed(healthUrl, POLL_MS);
        return;
      }
      const outcome = await replayVisitorChanges(doc, connection);
      say(element, "live", reconnectedNotice(outcome), false);
      window.setTimeout(() => {
        if (element.dataset.state === "live") {
          say(element, "live", "", false);
        }
      }, 3000);
    });
  }

  function viewersLine(element) {
    let line = element.previousElementSibling;
    while (line !== null && !line.classList.contains("live-session-viewers")) {
      line = line.previousElementSibling;
    }
    if (line === null) {
      line = document.createElement("div");
      line.className = "live-session-viewers";
      line.setAttribute("aria-live", "polite");
      element.parentElement.insertBefore(line, element.parentElement.firstChild);
    }
    return line;
  }

  function watchViewers(doc, element) {
    const line = viewersLine(element);
    let followed = null;
    const show = () => {
      // Looked up each time: a reconnect replaces the document's models with the server's.
      const model = doc.get_model_by_name(VIEWERS_MODEL);
      if (model !== null && model !== followed && model.patching !== undefined) {
        // A process's row changes by a patch of the column, which BokehJS applies silently.
        followed = model;
        model.patching.connect(show);
      }
      const data = model === null ? null : model.data;
      const viewers = data === null ? undefined : data instanceof Map ? data.get("viewers") : data.viewers;
      // One row per Bokeh process holding viewers of the view (bkruntime/shared_views.py).
      let count = 0;
      for (const row of viewers === undefined ? [] : viewers) {
        count += Number(row);
      }
      line.dataset.viewers = String(count);
      line.textContent = count > 0 ? `Shared view · ${count} watching` : "Shared view";
    };
    show();
    doc.on_change(show);
  }

  // BokehJS creates the documents once the page has loaded; pick each up as it appears (looked for
  // when BokehJS draws into a placeholder, and every POLL_MS until every app is watched).
  function watchDocuments() {
    if (!window.Bokeh || !Bokeh.documents) {
      return;
    }
    for (const doc of Bokeh.documents) {
      if (watchedDocuments.has(doc)) {
        continue;
      }
      const element = elementOf(doc);
      if (element !== null && !watchedElements.has(element)) {
        watchedDocuments.add(doc);
        watchedElements.add(element);
        elementsByDocument.set(doc, element);
        watchConnection(doc, element);
        if (element.dataset.shared === "true") {
          // One document for every viewer: a viewer who reconnects rejoins it as it is now.
          watchViewers(doc, element);
        } else if (visitorChanges !== undefined) {
          visitorChanges.watch(doc);
        }
        if (element.dataset.state === "loading") {
          say(element, "live", "", false);
        }
      }
    }
    if (sessions.every((element) => watchedElements.has(element) || element.dataset.state === "gone")) {
      window.clearInterval(poller);
    }
  }

  sessions.forEach(watchLoading);
  const poller = window.setInterval(watchDocuments, POLL_MS);
})();
