/* rtlens browser capture: records a Realtime WebRTC call's `oai-events` data channel.
 *
 * Include it before the app creates its RTCPeerConnection (`rtlens capture-js` prints it;
 * `rtlens record` serves it at /capture.js). Every message on the channel, both
 * directions, is stamped with the page's monotonic clock (performance.timeOrigin + now())
 * and kept as the string it was; the SDP POST to /v1/realtime/calls (or the beta
 * /v1/realtime?model=) adds its URL, status and request headers, allowlisted values only:
 * the Authorization value (the ephemeral key) never leaves the page. Batches go to
 * `rtlens record`'s POST /collect, one at a time per call and in order, off the app's
 * path: the message handler only takes a timestamp and pushes onto an array.
 */
(function () {
  'use strict';
  var Native = window.RTCPeerConnection;
  if (!Native || Native.__rtlens) return;
  var COLLECT = '__RTLENS_COLLECT_URL__';
  if (COLLECT.indexOf('__RTLENS') === 0) {
    var script = document.currentScript;
    COLLECT = script && script.src ? new URL('/collect', script.src).href
      : 'http://127.0.0.1:8765/collect';
  }
  var SAFE_HEADERS = __RTLENS_SAFE_HEADERS__; // rtlens.logfile.redact.SAFE_HEADERS
  var LABEL = 'oai-events';
  var FLUSH_MS = 200; // how long events wait to share a batch
  var MAX_EVENTS = 400; // a batch is sent at once when this many wait
  var BEACON_BYTES = 60000; // sendBeacon and keepalive fetches carry up to 64 KiB
  var origin = performance.timeOrigin;
  var perf = performance;
  var post = window.fetch.bind(window); // the page's fetch is wrapped below
  var beacon = navigator.sendBeacon ? navigator.sendBeacon.bind(navigator) : null;
  var live = [];
  var offering = []; // calls whose SDP POST has not been seen yet

  function now() { return origin + perf.now(); }

  // fetch() costs the page's thread about a millisecond a call, so batches are posted from
  // a worker; where the page's CSP forbids blob: workers, from the page itself.
  var worker, waiting = {}, nextId = 0;
  var WORKER = "onmessage = function (m) { var d = m.data;" +
    " fetch(d.url, {method: 'POST', body: d.body, mode: 'cors', credentials: 'omit'," +
    " headers: {'Content-Type': 'text/plain'}}).then(function (r) { return r.text().then(" +
    "function (t) { postMessage({id: d.id, status: r.status, text: t}); }); }," +
    " function (e) { postMessage({id: d.id, status: 0, text: String(e)}); }); };";

  function postFromPage(body, done) {
    post(COLLECT, {
      method: 'POST', body: body, mode: 'cors', credentials: 'omit',
      headers: { 'Content-Type': 'text/plain' }, // a simple request: no preflight per batch
      keepalive: body.length < BEACON_BYTES,
    }).then(function (r) {
      return r.text().then(function (text) { done(r.status, text); });
    }, function (err) { done(0, String(err)); });
  }

  function startWorker() {
    if (worker === undefined) {
      try {
        worker = new Worker(URL.createObjectURL(new Blob([WORKER], { type: 'text/javascript' })));
        worker.onmessage = function (m) {
          var entry = waiting[m.data.id];
          delete waiting[m.data.id];
          if (entry) entry[1](m.data.status, m.data.text);
        };
        worker.onerror = function () { // refused by the page's CSP: post from the page
          worker = null;
          var left = waiting;
          waiting = {};
          for (var id in left) postFromPage(left[id][0], left[id][1]);
        };
      } catch (e) { worker = null; }
    }
  }

  function send(body, done) {
    startWorker();
    if (!worker) return postFromPage(body, done);
    var id = nextId++;
    waiting[id] = [body, done];
    worker.postMessage({ id: id, url: COLLECT, body: body });
  }

  function newKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    var hex = '';
    for (var i = 0; i < 16; i++) hex += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return hex;
  }

  function base64(buffer) {
    var bytes = new Uint8Array(buffer), out = '';
    for (var i = 0; i < bytes.length; i += 32768) {
      out += String.fromCharCode.apply(null, bytes.subarray(i, i + 32768));
    }
    return btoa(out);
  }

  function Call(pc) {
    this.key = newKey();
    this.pc = pc;
    this.started = now();
    this.queue = []; // [ts, dir, data] triples, flat: the hot path allocates nothing else
    this.seq = 0;
    this.exchange = null;
    this.awaitingExchange = false;
    this.timer = 0;
    this.inflight = false;
    this.ending = null;
    this.done = false;
    this.closedByPage = false;
    var self = this;
    this.flushSoon = function () { self.timer = 0; self.flush(); };
    live.push(this);
    offering.push(this);
    startWorker(); // now, while the call is set up, not amid its first events
  }

  Call.prototype.push = function (ts, dir, data) {
    if (this.ending) return;
    var q = this.queue;
    q.push(ts, dir, data);
    if (q.length >= 3 * MAX_EVENTS) {
      if (!this.inflight) this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(this.flushSoon, FLUSH_MS);
    }
  };

  Call.prototype.end = function (by, reason, later) {
    if (this.ending) return;
    this.ending = { ts: now(), by: by, reason: reason };
    var i = live.indexOf(this);
    if (i >= 0) live.splice(i, 1);
    this.forgetOffer();
    if (!later && !this.inflight) this.flush();
  };

  Call.prototype.forgetOffer = function () {
    var i = offering.indexOf(this);
    if (i >= 0) offering.splice(i, 1);
  };

  // The next batch's body, or null when there is nothing to send.
  Call.prototype.take = function (maxBytes) {
    var q = this.queue, events = [], size = 0, n = 0;
    while (n < q.length && events.length < MAX_EVENTS) {
      var data = q[n + 2], ev = { ts: q[n], dir: q[n + 1] };
      if (typeof data === 'string') ev.text = data;
      else if (data instanceof ArrayBuffer) ev.binary = base64(data);
      else if (ArrayBuffer.isView(data)) ev.binary = base64(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
      else ev.binary = ''; // a Blob: replaced by its bytes before take (see flush)
      var cost = (ev.text || ev.binary).length + 64;
      if (maxBytes && events.length && size + cost > maxBytes) break;
      size += cost;
      events.push(ev);
      n += 3;
    }
    q.splice(0, n);
    var last = this.ending && q.length === 0;
    if (!events.length && this.seq > 0 && !last) return null;
    var body = { rtlens_capture: 1, call: this.key, seq: this.seq, events: events };
    if (this.seq === 0) {
      body.open = {
        started: this.started, page: location.origin + location.pathname,
        user_agent: navigator.userAgent, exchange: this.exchange,
      };
    }
    if (last) body.close = this.ending;
    this.seq += 1;
    if (last) this.done = true;
    return JSON.stringify(body);
  };

  Call.prototype.flush = function () {
    if (this.timer) { clearTimeout(this.timer); this.timer = 0; }
    if (this.inflight || this.done) return;
    if (this.awaitingExchange && !this.ending) { // the answer comes before the channel opens
      this.timer = setTimeout(this.flushSoon, FLUSH_MS);
      return;
    }
    var self = this;
    for (var i = 2; i < this.queue.length; i += 3) {
      var data = this.queue[i];
      if (typeof Blob !== 'undefined' && data instanceof Blob) {
        this.inflight = true;
        data.arrayBuffer().then(function (buffer) { return [buffer, null]; },
          function () { return [new ArrayBuffer(0), null]; }).then(function (got) {
          var at = self.queue.indexOf(data);
          if (at >= 0) self.queue[at] = got[0];
          self.inflight = false;
          self.flush();
        });
        return;
      }
    }
    var body = this.take(0);
    if (body === null) return;
    this.inflight = true;
    this.posting = body;
    send(body, function (status, text) { self.answered(body, status, text); });
  };

  Call.prototype.answered = function (body, status, text) {
    this.inflight = false;
    this.posting = null;
    if (status >= 200 && status < 300) { this.retried = false; return this.sent(); }
    if (status === 0 && !this.retried) {
      // Not reached (rtlens record not running yet?): the same batch once more, a second on.
      this.retried = true;
      this.inflight = true;
      this.posting = body;
      var self = this;
      setTimeout(function () {
        send(body, function (s, t) { self.answered(body, s, t); });
      }, 1000);
      return;
    }
    this.refused(status, text);
  };

  Call.prototype.sent = function () {
    // what came meanwhile waits for its own batch window, unless there is a batch's worth
    if ((this.ending && !this.done) || this.queue.length >= 3 * MAX_EVENTS) this.flush();
    else if (this.queue.length && !this.timer) this.timer = setTimeout(this.flushSoon, FLUSH_MS);
  };

  Call.prototype.refused = function (status, text) {
    this.done = true; // the collector will not take this call any more
    this.queue.length = 0;
    console.warn('rtlens capture: the collector refused call ' + this.key + ' (' + status + '): ' + text);
  };

  // pagehide: what is left goes in beacons, which outlive the page.
  Call.prototype.hide = function () {
    this.end('client', 'pagehide', true);
    if (this.timer) { clearTimeout(this.timer); this.timer = 0; }
    if (!beacon) return;
    if (this.posting) { // its answer may never come: again, and the collector skips it if
      var again = JSON.parse(this.posting); // it has it already
      again.resent = true;
      beacon(COLLECT, new Blob([JSON.stringify(again)], { type: 'text/plain' }));
    }
    var body;
    while (!this.done && (body = this.take(BEACON_BYTES)) !== null) {
      beacon(COLLECT, new Blob([body], { type: 'text/plain' }));
    }
  };

  function headerPairs(init, input) {
    var raw = (init && init.headers) || (input && input.headers) || [];
    var pairs = [];
    if (typeof Headers !== 'undefined' && raw instanceof Headers) raw.forEach(function (v, k) { pairs.push([k, v]); });
    else if (Array.isArray(raw)) pairs = raw.map(function (p) { return [String(p[0]), String(p[1])]; });
    else for (var k in raw) pairs.push([k, String(raw[k])]);
    return pairs.map(function (p) {
      return [p[0], SAFE_HEADERS.indexOf(p[0].toLowerCase()) >= 0 ? p[1] : '<redacted>'];
    });
  }

  function sdpOf(init, input) {
    var body = init && init.body;
    if (typeof body === 'string') return body;
    if (typeof FormData !== 'undefined' && body instanceof FormData) {
      var sdp = body.get('sdp');
      return typeof sdp === 'string' ? sdp : null;
    }
    return null;
  }

  function isSdpPost(url, method) {
    if (method !== 'POST') return false;
    var path = url.pathname.replace(/\/+$/, '');
    return /\/realtime\/calls$/.test(path) || (/\/realtime$/.test(path) && url.searchParams.has('model'));
  }

  function callFor(sdp) {
    for (var i = offering.length - 1; i >= 0; i--) {
      var desc = offering[i].pc.localDescription;
      if (sdp !== null && desc && desc.sdp === sdp) return offering[i];
    }
    return offering.length ? offering[offering.length - 1] : null;
  }

  window.fetch = function (input, init) {
    var answer = post.apply(null, arguments);
    try {
      var url = new URL(typeof input === 'string' || input instanceof URL ? String(input) : input.url, location.href);
      var method = String((init && init.method) || (input && input.method) || 'GET').toUpperCase();
      var call = isSdpPost(url, method) ? callFor(sdpOf(init, input)) : null;
      if (call) {
        call.forgetOffer();
        call.awaitingExchange = true;
        var exchange = { ts: now(), method: method, url: url.href, headers: headerPairs(init, input) };
        answer.then(function (r) {
          exchange.answered = now();
          exchange.status = r.status;
          exchange.response_headers = [];
          ['content-type', 'location'].forEach(function (name) {
            var v = r.headers.get(name);
            if (v !== null) exchange.response_headers.push([name, v]);
          });
        }, function (err) { exchange.error = String(err); }).then(function () {
          call.exchange = exchange;
          call.awaitingExchange = false;
        });
      }
    } catch (e) { /* never break the app's fetch */ }
    return answer;
  };

  function tap(pc, channel) {
    if (channel.label !== LABEL || channel.__rtlens) return;
    channel.__rtlens = true;
    var call = pc.__rtlensCall || (pc.__rtlensCall = new Call(pc));
    // Registered before the app can add its own, so it runs first and costs the app only
    // a clock read and three pushes per message.
    channel.addEventListener('message', function (e) { call.push(now(), 'server', e.data); });
    channel.addEventListener('close', function () {
      call.end(call.closedByPage ? 'client' : 'server', 'data channel closed');
    });
    var send = channel.send;
    channel.send = function (data) {
      var ts = now();
      var out = send.call(this, data); // throws (channel not open) before anything is kept
      call.push(ts, 'client', data);
      return out;
    };
  }

  function Wrapped(config, constraints) {
    var pc = constraints === undefined ? new Native(config) : new Native(config, constraints);
    pc.addEventListener('datachannel', function (e) { tap(pc, e.channel); });
    var create = pc.createDataChannel;
    pc.createDataChannel = function () {
      var channel = create.apply(this, arguments);
      tap(pc, channel);
      return channel;
    };
    var close = pc.close;
    pc.close = function () {
      if (pc.__rtlensCall) {
        pc.__rtlensCall.closedByPage = true;
        pc.__rtlensCall.end('client', 'pc.close()');
      }
      return close.apply(this, arguments);
    };
    pc.addEventListener('connectionstatechange', function () {
      if (pc.__rtlensCall && (pc.connectionState === 'failed' || pc.connectionState === 'closed')) {
        pc.__rtlensCall.end(pc.__rtlensCall.closedByPage ? 'client' : 'server', 'connection ' + pc.connectionState);
      }
    });
    return pc;
  }
  Wrapped.prototype = Native.prototype;
  Object.getOwnPropertyNames(Native).forEach(function (name) {
    if (!(name in Wrapped)) {
      try { Wrapped[name] = Native[name]; } catch (e) { /* read-only */ }
    }
  });
  Wrapped.__rtlens = true;
  window.RTCPeerConnection = Wrapped;
  if (window.webkitRTCPeerConnection) window.webkitRTCPeerConnection = Wrapped;
  window.addEventListener('pagehide', function () {
    live.slice().forEach(function (call) { call.hide(); });
  });
  window.__rtlensCapture = { collect: COLLECT, calls: live };
})();
