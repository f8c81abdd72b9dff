// Darwaza's offline verifier: checks a DZ1: compact QR in the browser, with no network,
// against the trust bundle and status lists synced earlier. It follows
// darwaza/verification/verifier.py step for step (form, issuer, signature, dates, status)
// and gives the same verdicts; tests/browser/test_offline_verifier.py compares the two.
//
// Trust: the bundle is a JWS signed by the platform's root key. The page pins that key by
// its RFC 7638 thumbprint (data-root-thumbprint); a bundle whose root JWK does not hash to
// the pin, or whose signature does not verify with it, is refused.
(function () {
  "use strict";

  var PREFIX = "DZ1:";
  var B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
  var MAX_TEXT = 8 * 1024;
  var SKEW = 60;
  var STORE = "darwaza-offline-trust-v1";
  var R = {
    unreadable: "This is not a document this service can read.",
    notOurs: "This is neither a Darwaza QR code nor an SD-JWT document.",
    badQr: "The QR code does not hold a readable Darwaza document.",
    unknownIssuer: "The issuer or its signing key is not in the trust list.",
    notEs256: "The document is not signed with ES256, the only algorithm accepted.",
    badSignature: "The signature does not match the issuer's key.",
    notYet: "The document is not valid yet.",
    future: "The document is dated in the future.",
    expired: "The document has expired.",
    unchecked: "The status of the document could not be checked; it may have been revoked.",
    revoked: "The issuer has revoked this document.",
    suspended: "The issuer has suspended this document.",
    strange: "The status list gives a value this verifier does not understand.",
    sdJwtOnline: "Only QR codes can be checked without a connection."
  };

  function Malformed(message) { this.message = message; }

  // ---- bytes ----
  function b64urlDecode(text) {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) {
      throw new Malformed("not base64url");
    }
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    // One spelling only: the unused bits of the last character must be zero.
    if (b64urlEncode(bytes) !== text) throw new Malformed("not canonical base64url");
    return bytes;
  }
  function b64urlEncode(bytes) {
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function utf8(bytes) { return new TextDecoder("utf-8", { fatal: true }).decode(bytes); }
  function ascii(text) { return new TextEncoder().encode(text); }
  function concat(parts) {
    var size = 0, offset = 0;
    parts.forEach(function (p) { size += p.length; });
    var out = new Uint8Array(size);
    parts.forEach(function (p) { out.set(p, offset); offset += p.length; });
    return out;
  }

  function b45Decode(text) {
    var out = [];
    for (var i = 0; i < text.length; i += 3) {
      var chunk = text.slice(i, i + 3);
      var values = [];
      for (var j = 0; j < chunk.length; j++) {
        var v = B45.indexOf(chunk[j]);
        if (v < 0) throw new Malformed("not Base45");
        values.push(v);
      }
      if (values.length === 3) {
        var n = values[0] + values[1] * 45 + values[2] * 2025;
        if (n > 0xffff) throw new Malformed("not Base45");
        out.push(n >> 8, n & 0xff);
      } else if (values.length === 2) {
        var m = values[0] + values[1] * 45;
        if (m > 0xff) throw new Malformed("not Base45");
        out.push(m);
      } else {
        throw new Malformed("not Base45");
      }
    }
    return new Uint8Array(out);
  }

  // One complete zlib stream; junk after it, or a cut-off stream, is refused by the browser.
  function inflate(bytes) {
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Response(stream).arrayBuffer().then(function (buffer) {
      if (buffer.byteLength > 64 * 1024) throw new Malformed("too large");
      return new Uint8Array(buffer);
    }, function () { throw new Malformed("not one complete zlib stream"); });
  }

  // ---- CBOR (RFC 8949): the subset a signed document uses; maps keep their key types ----
  function Tagged(tag, value) { this.tag = tag; this.value = value; }
  function cborDecodeExactly(bytes) {
    var view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    var pos = 0;
    function need(n) { if (pos + n > bytes.length) throw new Malformed("short CBOR"); }
    function length(info) {
      if (info < 24) return info;
      if (info === 24) { need(1); return bytes[pos++]; }
      if (info === 25) { need(2); var a = view.getUint16(pos); pos += 2; return a; }
      if (info === 26) { need(4); var b = view.getUint32(pos); pos += 4; return b; }
      if (info === 27) {
        need(8);
        var high = view.getUint32(pos), low = view.getUint32(pos + 4);
        pos += 8;
        if (high > 0x1fffff) throw new Malformed("number too large");
        return high * 4294967296 + low;
      }
      throw new Malformed("indefinite or reserved CBOR length");
    }
    function item(depth) {
      if (depth > 32) throw new Malformed("CBOR nested too deep");
      need(1);
      var initial = bytes[pos++], major = initial >> 5, info = initial & 31;
      if (major === 7) {
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        if (info === 25) { need(2); var h = view.getUint16(pos); pos += 2; return half(h); }
        if (info === 26) { need(4); var f = view.getFloat32(pos); pos += 4; return f; }
        if (info === 27) { need(8); var d = view.getFloat64(pos); pos += 8; return d; }
        throw new Malformed("unsupported CBOR simple value");
      }
      var n = length(info);
      if (major === 0) return n;
      if (major === 1) return -1 - n;
      if (major === 2 || major === 3) {
        need(n);
        var chunk = bytes.slice(pos, pos + n);
        pos += n;
        if (major === 2) return chunk;
        try { return utf8(chunk); } catch (e) { throw new Malformed("bad UTF-8"); }
      }
      if (major === 4) {
        var list = [];
        for (var i = 0; i < n; i++) list.push(item(depth + 1));
        return list;
      }
      if (major === 5) {
        var map = new Map();
        for (var k = 0; k < n; k++) {
          var key = item(depth + 1);
          map.set(key, item(depth + 1));
        }
        return map;
      }
      return new Tagged(n, item(depth + 1));
    }
    function half(h) {
      var exponent = (h >> 10) & 0x1f, fraction = h & 0x3ff, sign = h & 0x8000 ? -1 : 1;
      if (exponent === 0) return sign * Math.pow(2, -14) * (fraction / 1024);
      if (exponent === 31) return fraction ? NaN : sign * Infinity;
      return sign * Math.pow(2, exponent - 15) * (1 + fraction / 1024);
    }
    var value = item(0);
    if (pos !== bytes.length) throw new Malformed("trailing bytes after the CBOR item");
    return value;
  }
  function cborHead(major, n) {
    if (n < 24) return new Uint8Array([(major << 5) | n]);
    if (n < 256) return new Uint8Array([(major << 5) | 24, n]);
    if (n < 65536) return new Uint8Array([(major << 5) | 25, n >> 8, n & 0xff]);
    return new Uint8Array([(major << 5) | 26, (n >>> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
  }
  function sigStructure(protectedHeader, payload) {
    var context = ascii("Signature1");
    return concat([
      new Uint8Array([0x84]),
      cborHead(3, context.length), context,
      cborHead(2, protectedHeader.length), protectedHeader,
      cborHead(2, 0),
      cborHead(2, payload.length), payload
    ]);
  }
  function isInt(v) { return typeof v === "number" && Number.isInteger(v); }
  function isPlain(value, depth) {
    if (depth > 16) return false;
    if (value === null || typeof value === "string" || typeof value === "boolean") return true;
    if (typeof value === "number") return isFinite(value);
    if (Array.isArray(value)) return value.every(function (v) { return isPlain(v, depth + 1); });
    if (value instanceof Map) {
      var ok = true;
      value.forEach(function (v, k) { if (typeof k !== "string" || !isPlain(v, depth + 1)) ok = false; });
      return ok;
    }
    return false;
  }
  function plain(value) {
    if (value instanceof Map) {
      var out = {};
      value.forEach(function (v, k) { out[k] = plain(v); });
      return out;
    }
    if (Array.isArray(value)) return value.map(plain);
    return value;
  }

  // The compact QR, read without checking its signature (compact_qr.decode_compact_qr).
  function decodeCompactQr(text) {
    if (text.indexOf(PREFIX) !== 0 || text.length > MAX_TEXT) return Promise.reject(new Malformed("prefix"));
    var body = text.slice(PREFIX.length);
    if (!body) return Promise.reject(new Malformed("empty"));
    var compressed;
    try { compressed = b45Decode(body); } catch (e) { return Promise.reject(e); }
    return inflate(compressed).then(function (inflated) {
      var cose = cborDecodeExactly(inflated);
      if (!(cose instanceof Tagged) || cose.tag !== 18 || !Array.isArray(cose.value) || cose.value.length !== 4) {
        throw new Malformed("not a COSE_Sign1");
      }
      var protectedHeader = cose.value[0], unprotected = cose.value[1], payload = cose.value[2], signature = cose.value[3];
      if (!(protectedHeader instanceof Uint8Array) || !(payload instanceof Uint8Array)) throw new Malformed("not a COSE_Sign1");
      if (!(signature instanceof Uint8Array) || !(unprotected instanceof Map)) throw new Malformed("not a COSE_Sign1");
      var prot = protectedHeader.length ? cborDecodeExactly(protectedHeader) : new Map();
      if (!(prot instanceof Map)) throw new Malformed("protected header");
      var algorithm = prot.has(1) ? prot.get(1) : null;
      if (algorithm !== null && !isInt(algorithm)) throw new Malformed("algorithm");
      prot.forEach(function (v, k) { if (unprotected.has(k)) throw new Malformed("header twice"); });
      var kid = unprotected.get(4);
      if (!(kid instanceof Uint8Array) || !kid.length) throw new Malformed("kid");
      if (unprotected.size !== 1) throw new Malformed("unprotected parameters");
      if (prot.has(2)) throw new Malformed("crit");
      var claims = cborDecodeExactly(payload);
      if (!(claims instanceof Map)) throw new Malformed("claims");
      claims.forEach(function (v, k) {
        if (!(isInt(k) || typeof k === "string") || !isPlain(v, 0)) throw new Malformed("claims not plain");
      });
      var issuer = claims.get(1), document = claims.get(-70000);
      if (typeof issuer !== "string" || !(document instanceof Map)) throw new Malformed("issuer or document");
      var type = document.get("t"), values = document.get("c"), status = document.get("s");
      if (typeof type !== "string" || !(values instanceof Map)) throw new Malformed("type or claims");
      if (!(status instanceof Map)) throw new Malformed("status");
      var index = status.get("idx"), uri = status.get("uri");
      if (!isInt(index) || index < 0) throw new Malformed("status index");
      if (typeof uri !== "string") throw new Malformed("status uri");
      function time(key) {
        var t = claims.has(key) ? claims.get(key) : null;
        if (t === null) return null;
        if (!isInt(t)) throw new Malformed("time");
        return t;
      }
      return {
        kid: b64urlEncode(kid), algorithm: algorithm, signed: sigStructure(protectedHeader, payload),
        signature: signature, issuer: issuer, type: type, claims: plain(values),
        statusUri: uri, statusIndex: index, iat: time(6), exp: time(4), nbf: time(5)
      };
    });
  }

  // ---- keys and JWS ----
  function importJwk(jwk) {
    if (!jwk || jwk.kty !== "EC" || jwk.crv !== "P-256" || typeof jwk.x !== "string" || typeof jwk.y !== "string") {
      return Promise.reject(new Malformed("not a P-256 key"));
    }
    return crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y, ext: true },
      { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  }
  function es256Verify(key, signature, data) {
    if (signature.length !== 64) return Promise.resolve(false);
    return crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, signature, data)
      .catch(function () { return false; });
  }
  function thumbprint(jwk) {
    var canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
    return crypto.subtle.digest("SHA-256", ascii(canonical)).then(function (d) { return b64urlEncode(new Uint8Array(d)); });
  }
  function parseJws(token) {
    var parts = typeof token === "string" ? token.split(".") : [];
    if (parts.length !== 3) throw new Malformed("not a compact JWS");
    var header = JSON.parse(utf8(b64urlDecode(parts[0])));
    var payload = JSON.parse(utf8(b64urlDecode(parts[1])));
    if (!header || typeof header !== "object" || Array.isArray(header)) throw new Malformed("header");
    if (!payload || typeof payload !== "object" || Array.isArray(payload)) throw new Malformed("payload");
    if ("crit" in header) throw new Malformed("crit");
    return { header: header, payload: payload, input: ascii(parts[0] + "." + parts[1]), signature: b64urlDecode(parts[2]) };
  }
  function isTime(v) { return typeof v === "number" && isFinite(v) && typeof v !== "boolean"; }

  // The bundle, checked against the pinned thumbprint (trust_bundle.verify_pinned_trust_bundle).
  function verifyBundle(token, pinned, now) {
    var jws = parseJws(token);
    var root = jws.payload.root_jwk;
    if (!root || typeof root !== "object") throw new Malformed("no root key");
    return thumbprint(root).then(function (actual) {
      if (actual !== pinned) throw new Malformed("The trust bundle is not signed by the pinned root key.");
      if (jws.header.typ !== "darwaza-trust-bundle+jwt" || jws.header.alg !== "ES256") throw new Malformed("not a trust bundle");
      return importJwk(root);
    }).then(function (key) {
      return es256Verify(key, jws.signature, jws.input);
    }).then(function (good) {
      if (!good) throw new Malformed("The trust bundle is not signed by the pinned root key.");
      var p = jws.payload;
      if (!isTime(p.iat) || !isTime(p.exp)) throw new Malformed("no valid time");
      if (p.iat > now + SKEW) throw new Malformed("The trust bundle is dated in the future.");
      if (now >= p.exp) throw new Malformed("The trust bundle has expired; sync a fresh one.");
      if (!Array.isArray(p.issuers)) throw new Malformed("no issuers");
      return p;
    });
  }
  function findIssuer(bundle, url) {
    return bundle.issuers.filter(function (entry) { return entry.issuer === url; })[0] || null;
  }
  function keyOf(issuer, kid) {
    var keys = issuer && issuer.jwks && Array.isArray(issuer.jwks.keys) ? issuer.jwks.keys : [];
    return keys.filter(function (k) { return k.kid === kid; })[0] || null;
  }
  function publisherOf(bundle, uri) {
    return bundle.issuers.filter(function (entry) {
      return (entry.status_list_uris || []).indexOf(uri) >= 0 ||
        (typeof entry.status_list_prefix === "string" && uri.indexOf(entry.status_list_prefix) === 0);
    })[0] || null;
  }

  // A status entry from a synced list, or null when it cannot be learnt (status_list.py).
  function statusOf(bundle, tokens, uri, index, now) {
    var token = tokens[uri], publisher = publisherOf(bundle, uri);
    if (!token || !publisher) return Promise.resolve(null);
    var jws;
    try { jws = parseJws(token); } catch (e) { return Promise.resolve(null); }
    if (jws.header.typ !== "statuslist+jwt" || jws.header.alg !== "ES256") return Promise.resolve(null);
    var jwk = keyOf(publisher, jws.header.kid);
    if (!jwk) return Promise.resolve(null);
    return importJwk(jwk).then(function (key) { return es256Verify(key, jws.signature, jws.input); }).then(function (good) {
      var p = jws.payload;
      if (!good || p.sub !== uri || !isTime(p.iat) || !isTime(p.exp)) return null;
      if (p.iat > now + SKEW || now >= p.exp) return null;
      var list = p.status_list || {}, bits = list.bits;
      if ([1, 2, 4, 8].indexOf(bits) < 0 || typeof list.lst !== "string") return null;
      return inflate(b64urlDecode(list.lst)).then(function (data) {
        if (index >= (data.length * 8) / bits) return null;
        var position = index * bits;
        return (data[position >> 3] >> (position % 8)) & ((1 << bits) - 1);
      });
    }).catch(function () { return null; });
  }

  function result(verdict, reasons, extra) {
    var out = { verdict: verdict, reasons: reasons };
    Object.keys(extra || {}).forEach(function (k) { out[k] = extra[k]; });
    return out;
  }

  // verify(text, trust, now): the verdict on a QR text, with the reasons in English msgids.
  function verify(text, trust, now) {
    if (typeof text !== "string" || text.length > 1024 * 1024) return Promise.resolve(result("malformed", [R.unreadable]));
    var candidate = text.replace(/^[\r\n\t]+|[\r\n\t]+$/g, "");
    if (candidate.indexOf(PREFIX) !== 0) {
      return Promise.resolve(result("malformed", [candidate.indexOf("~") >= 0 ? R.sdJwtOnline : R.notOurs]));
    }
    var bundle = trust.bundle;
    return decodeCompactQr(candidate).then(function (qr) {
      var issuer = findIssuer(bundle, qr.issuer);
      var jwk = keyOf(issuer, qr.kid);
      if (!jwk) return result("unknown_issuer", [R.unknownIssuer]);
      if (qr.algorithm !== -7) return result("invalid_signature", [R.notEs256]);
      return importJwk(jwk).then(function (key) {
        return es256Verify(key, qr.signature, qr.signed);
      }).then(function (good) {
        if (!good) return result("invalid_signature", [R.badSignature]);
        var shown = {
          issuer: { issuer: issuer.issuer, name_en: issuer.name_en, name_ur: issuer.name_ur },
          document_type: qr.type, claims: qr.claims, issued_at: qr.iat, expires_at: qr.exp,
          status_checked: false
        };
        if (qr.nbf !== null && qr.nbf > now + SKEW) return result("not_yet_valid", [R.notYet], shown);
        if (qr.iat !== null && qr.iat > now + SKEW) return result("not_yet_valid", [R.future], shown);
        if (qr.exp !== null && now >= qr.exp) return result("expired", [R.expired], shown);
        return statusOf(bundle, trust.statusLists || {}, qr.statusUri, qr.statusIndex, now).then(function (status) {
          if (status === null) return result("valid", [R.unchecked], shown);
          shown.status_checked = true;
          if (status === 0) return result("valid", [], shown);
          if (status === 1) return result("revoked", [R.revoked], shown);
          if (status === 2) return result("suspended", [R.suspended], shown);
          shown.status_checked = false;
          return result("valid", [R.strange], shown);
        });
      });
    }, function (error) {
      if (error instanceof Malformed) return result("malformed", [R.badQr]);
      throw error;
    });
  }

  // ---- the synced trust: localStorage, refreshed in the background when online ----
  function saved() {
    try { return JSON.parse(localStorage.getItem(STORE) || "null"); } catch (e) { return null; }
  }
  function loadTrust(pinned, now) {
    var data = saved();
    if (!data || !data.bundle) return Promise.reject(new Malformed("No trust list has been saved on this device yet."));
    return verifyBundle(data.bundle, pinned, now).then(function (bundle) {
      return { bundle: bundle, statusLists: data.statusLists || {}, refreshedAt: data.refreshedAt };
    });
  }
  function sameOriginPath(uri) {
    try {
      var url = new URL(uri, location.href);
      return url.origin === location.origin ? url.pathname + url.search : null;
    } catch (e) { return null; }
  }
  function refresh(pinned) {
    var now = Date.now() / 1000;
    return fetch("/trust-bundle", { cache: "no-cache" }).then(function (r) {
      if (!r.ok) throw new Error("no bundle");
      return r.text();
    }).then(function (token) {
      return verifyBundle(token, pinned, now).then(function (bundle) {
        var uris = [];
        bundle.issuers.forEach(function (entry) { (entry.status_list_uris || []).forEach(function (u) { uris.push(u); }); });
        var lists = {};
        return Promise.all(uris.map(function (uri) {
          var path = sameOriginPath(uri);
          if (!path) return null;
          return fetch(path, { cache: "no-cache" }).then(function (r) { return r.ok ? r.text() : null; })
            .then(function (text) { if (text) lists[uri] = text; }).catch(function () {});
        })).then(function () {
          var data = { bundle: token, statusLists: lists, refreshedAt: Date.now() };
          localStorage.setItem(STORE, JSON.stringify(data));
          return data;
        });
      });
    });
  }

  window.DarwazaVerifier = {
    verify: verify,
    verifyBundle: verifyBundle,
    loadTrust: loadTrust,
    refresh: refresh,
    // For tests and the page: check a text against the saved trust, now.
    check: function (text) {
      var form = document.getElementById("verify-form");
      var pinned = form ? form.dataset.rootThumbprint : "";
      var now = Date.now() / 1000;
      return loadTrust(pinned, now).then(function (trust) { return verify(text, trust, now); });
    }
  };

  // ---- the page ----
  var form = document.getElementById("verify-form");
  var panel = document.getElementById("offline-check");
  if (!form || !form.dataset.rootThumbprint || !window.crypto || !crypto.subtle || !window.DecompressionStream) return;
  var texts = {};
  try { texts = JSON.parse(document.getElementById("verifier-texts").textContent); } catch (e) { texts = {}; }
  function say(msgid) { return (texts.reasons && texts.reasons[msgid]) || msgid; }
  function showRefreshed() {
    var data = saved(), label = document.getElementById("offline-refreshed");
    if (!label || !data || !data.refreshedAt) return;
    var when = new Date(data.refreshedAt);
    label.textContent = (texts.refreshed || "Lists last updated: {when}").replace("{when}",
      when.toLocaleString(document.documentElement.lang === "ur" ? "ur-PK" : "en-GB",
        { day: "numeric", month: "short", year: "numeric", hour: "numeric", minute: "2-digit" }));
    if (panel) panel.hidden = false;
  }
  showRefreshed();
  if (navigator.onLine !== false) {
    refresh(form.dataset.rootThumbprint).then(showRefreshed).catch(function () {});
  }

  function render(outcome) {
    var box = document.getElementById("offline-result");
    box.textContent = "";
    var verdict = document.createElement("div");
    verdict.className = "verdict " + outcome.verdict;
    verdict.setAttribute("role", "status");
    verdict.textContent = (texts.verdicts && texts.verdicts[outcome.verdict]) || outcome.verdict;
    box.appendChild(verdict);
    if (outcome.issuer) {
      var by = document.createElement("p");
      by.className = "lead";
      var name = document.documentElement.lang === "ur" ? outcome.issuer.name_ur : outcome.issuer.name_en;
      by.textContent = (texts.issuedBy || "Issued by {issuer}").replace("{issuer}", name);
      box.appendChild(by);
    }
    if (outcome.claims) {
      var list = document.createElement("dl");
      list.className = "summary";
      Object.keys(outcome.claims).forEach(function (key) {
        var dt = document.createElement("dt"), dd = document.createElement("dd"), bdi = document.createElement("bdi");
        dt.textContent = (texts.claims && texts.claims[key]) || key;
        bdi.textContent = String(outcome.claims[key]);
        dd.appendChild(bdi);
        list.appendChild(dt);
        list.appendChild(dd);
      });
      box.appendChild(list);
    }
    if (outcome.reasons.length) {
      var reasons = document.createElement("ul");
      outcome.reasons.forEach(function (r) {
        var li = document.createElement("li");
        li.textContent = say(r);
        reasons.appendChild(li);
      });
      box.appendChild(reasons);
    }
    var note = document.createElement("p");
    note.className = "meta";
    note.textContent = texts.offlineNote || "Checked on this device, without a connection.";
    box.appendChild(note);
    box.hidden = false;
    box.focus();
  }

  // Offline, a QR text is checked here instead of being sent; online the server checks it.
  form.addEventListener("submit", function (event) {
    var text = document.getElementById("field-credential").value.trim();
    if (navigator.onLine !== false || text.indexOf(PREFIX) !== 0) return;
    event.preventDefault();
    window.DarwazaVerifier.check(text).then(render, function (problem) {
      render({ verdict: "unknown_issuer", reasons: [problem && problem.message ? problem.message : R.unknownIssuer] });
    });
  });
})();
