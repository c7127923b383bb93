// Copenhagen TV page: lays the tiles out to fill the screen, polls
// tv/state and patches the tiles. A tile's data-state (and so its
// colour) is only written when it changes; the page reloads itself when
// the set of tiles changes (rules reloaded, checks imported).
(function () {
  'use strict';
  var body = document.body;
  var main = document.getElementById('tiles');
  var refresh = Math.max(1000, parseInt(body.getAttribute('data-refresh'), 10) || 10000);
  var signature = body.getAttribute('data-signature');
  var script = document.currentScript && document.currentScript.src;
  var stateURL = (script ? script.replace(/tv\.js(\?.*)?$/, 'state') : 'tv/state') + location.search;
  var words = { ok: 'OK', warning: 'WARNING', critical: 'CRITICAL', nodata: 'NO DATA', stale: 'STALE' };
  var lastOK = Date.now();

  // layout picks the column count that makes tiles as large as possible,
  // preferring tiles a little wider than high (a number under a name).
  function layout() {
    var n = main.children.length;
    if (!n) { return; }
    var cs = getComputedStyle(main);
    var gap = parseFloat(cs.rowGap) || 0;
    var w = main.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    var h = main.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
    var best = 1, bestScore = -1;
    for (var c = 1; c <= n; c++) {
      var r = Math.ceil(n / c);
      var tw = (w - gap * (c - 1)) / c, th = (h - gap * (r - 1)) / r;
      if (tw <= 0 || th <= 0) { continue; }
      var score = Math.min(tw / 1.5, th); // an ideal tile is 1.5:1
      if (score > bestScore) { bestScore = score; best = c; }
    }
    main.style.setProperty('--cols', best);
    main.style.setProperty('--rows', Math.ceil(n / best));
  }

  // fit shrinks a tile's value until its text fits the tile's width.
  function fit(tile) {
    var v = tile.querySelector('.value');
    if (!v) { return; }
    v.style.fontSize = '';
    for (var i = 0; i < 3 && v.scrollWidth > v.clientWidth + 1; i++) {
      var size = parseFloat(getComputedStyle(v).fontSize);
      v.style.fontSize = Math.floor(size * v.clientWidth / v.scrollWidth * 0.98) + 'px';
    }
  }
  function fitAll() {
    for (var i = 0; i < main.children.length; i++) { fit(main.children[i]); }
  }

  function setAttr(el, name, value) {
    if (el.getAttribute(name) !== value) { el.setAttribute(name, value); }
  }
  function setText(el, sel, text) {
    var e = el.querySelector(sel);
    if (e && e.textContent !== text) {
      e.textContent = text;
      return true;
    }
    return false;
  }
  function clock(d) {
    var p = function (x) { return (x < 10 ? '0' : '') + x; };
    return p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds());
  }

  function apply(b) {
    if (b.signature !== signature) { location.reload(); return; }
    var tiles = b.tiles || [];
    for (var i = 0; i < tiles.length; i++) {
      var t = tiles[i];
      var el = main.querySelector('[data-check-id="' + CSS.escape(t.id) + '"]');
      if (!el) { continue; }
      setAttr(el, 'data-last-state', t.lastState);
      setAttr(el, 'data-state', t.state);
      if (setText(el, '.value', t.valueText)) { fit(el); }
      setText(el, '.word', words[t.state] || t.state);
      setText(el, '.reason', t.reason || '');
      setText(el, '.thresholds', t.thresholds || '');
    }
    var s = document.getElementById('summary');
    var parts = [];
    var order = ['critical', 'warning', 'stale', 'nodata', 'ok'];
    var label = { critical: 'critical', warning: 'warning', stale: 'stale', nodata: 'no data', ok: 'ok' };
    for (var j = 0; j < order.length; j++) {
      var n = (b.counts || {})[order[j]];
      if (n) { parts.push(n + ' ' + label[order[j]]); }
    }
    if (s) { s.textContent = parts.join(' · '); }
    var u = document.getElementById('updated');
    var at = new Date(b.generated);
    u.setAttribute('datetime', b.generated);
    u.textContent = clock(at);
  }

  function lost() {
    if (Date.now() - lastOK <= 2 * refresh) { return; }
    if (body.getAttribute('data-connection') !== 'lost') {
      body.setAttribute('data-connection', 'lost');
      document.getElementById('lost-since').textContent = clock(new Date(lastOK));
    }
    // The server cannot tell us anything: every tile is stale, over the
    // colour it last had.
    var els = main.children;
    for (var i = 0; i < els.length; i++) {
      if (els[i].getAttribute('data-state') !== 'stale') {
        setAttr(els[i], 'data-last-state', els[i].getAttribute('data-state'));
        setAttr(els[i], 'data-state', 'stale');
        setText(els[i], '.word', 'STALE');
        setText(els[i], '.reason', 'no update from Copenhagen');
      }
    }
  }

  function tick() {
    var done = false;
    var next = function () { if (!done) { done = true; setTimeout(tick, refresh); } };
    fetch(stateURL, { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.json(); })
      .then(function (b) {
        lastOK = Date.now();
        setAttr(body, 'data-connection', 'ok');
        apply(b);
      })
      .catch(lost)
      .then(next, next);
  }

  layout();
  fitAll();
  window.addEventListener('resize', function () { layout(); fitAll(); });
  setTimeout(tick, refresh);
})();
