// The Keystile quickstart's demo client: the authorization code flow with
// PKCE (RFC 7636) in a single page, with no library and no build step.
//
// Everything shown comes from textContent, never innerHTML, and nothing is
// inline, so the page works under "script-src 'self'; style-src 'self'".
(function () {
  "use strict";

  // Settings, from data- attributes on <body>; empty ones are derived from
  // the page's own address.
  var data = document.body.dataset;
  var config = {
    issuer: (data.issuer || location.origin).replace(/\/+$/, ""),
    clientId: data.clientId || "demo",
    redirectUri: data.redirectUri || location.origin + "/demo/",
    scope: data.scope || "openid profile",
  };
  var storageKey = "keystile-demo-pending";

  var $ = function (id) { return document.getElementById(id); };
  var countdown = null;

  // --- encoding -----------------------------------------------------------

  function base64url(bytes) {
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function base64urlDecode(text) {
    var s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  }

  function randomValue(byteCount) {
    var bytes = new Uint8Array(byteCount);
    crypto.getRandomValues(bytes);
    return base64url(bytes);
  }

  // The S256 code challenge: BASE64URL(SHA256(ASCII(verifier))), RFC 7636 §4.2.
  function challengeFor(verifier) {
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)).then(function (digest) {
      return base64url(new Uint8Array(digest));
    });
  }

  // --- page state ---------------------------------------------------------

  function setStatus(text) {
    $("status").textContent = text;
  }

  function markStep(id, outcome) {
    var el = $(id);
    if (!el) return;
    el.classList.remove("done", "failed");
    if (outcome) el.classList.add(outcome);
  }

  function showProblem(text, details) {
    $("problem-text").textContent = text;
    var dl = $("problem-details");
    dl.replaceChildren();
    (details || []).forEach(function (pair) {
      if (!pair[1]) return;
      var dt = document.createElement("dt");
      dt.textContent = pair[0];
      var dd = document.createElement("dd");
      dd.textContent = pair[1];
      dl.append(dt, dd);
    });
    $("problem").hidden = false;
    $("start-over").hidden = false;
    setStatus("");
  }

  function startOver() {
    sessionStorage.removeItem(storageKey);
    if (countdown) clearInterval(countdown);
    countdown = null;
    history.replaceState(null, "", location.pathname);
    $("problem").hidden = true;
    $("result").hidden = true;
    $("start-over").hidden = true;
    $("sign-in").disabled = false;
    ["step-pkce", "step-authorize", "step-callback", "step-token", "step-decode"].forEach(function (id) {
      markStep(id, null);
    });
    setStatus("Ready. Press “Sign in with Keystile” to begin.");
    $("sign-in").focus();
  }

  // --- steps 1 and 2: build the request and leave -------------------------

  function signIn() {
    if (!window.crypto || !crypto.subtle) {
      showProblem("This browser does not offer Web Crypto here. Open the demo on http://127.0.0.1 or http://localhost, or over https.");
      return;
    }
    $("sign-in").disabled = true;
    var verifier = randomValue(32); // 43 characters, RFC 7636 §4.1
    var state = randomValue(16);
    challengeFor(verifier).then(function (challenge) {
      sessionStorage.setItem(storageKey, JSON.stringify({
        verifier: verifier,
        state: state,
        issuer: config.issuer,
        clientId: config.clientId,
        redirectUri: config.redirectUri,
      }));
      markStep("step-pkce", "done");
      var query = new URLSearchParams({
        response_type: "code",
        client_id: config.clientId,
        redirect_uri: config.redirectUri,
        scope: config.scope,
        state: state,
        code_challenge: challenge,
        code_challenge_method: "S256",
      }).toString().replace(/\+/g, "%20"); // URLSearchParams writes spaces as "+"
      setStatus("Taking you to Keystile's sign-in page…");
      location.assign(config.issuer + "/authorize?" + query);
    }).catch(function (err) {
      $("sign-in").disabled = false;
      showProblem("Could not make the PKCE code challenge: " + err.message);
    });
  }

  // --- steps 3 to 5: the way back -----------------------------------------

  function handleReturn(params) {
    // The code must not stay in the address bar, the history or a bookmark.
    history.replaceState(null, "", location.pathname);
    $("start-over").hidden = false;
    markStep("step-pkce", "done");
    markStep("step-authorize", "done");

    // The verifier and state are single use: take them out now.
    var saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(storageKey) || "null");
    } catch (e) {
      saved = null;
    }
    sessionStorage.removeItem(storageKey);

    if (params.get("error")) {
      markStep("step-callback", "failed");
      var stateNote = saved && params.get("state") === saved.state
        ? "The state matches the one this page sent."
        : "The state does not match a sign-in this tab started.";
      showProblem("Keystile sent you back with an error instead of a code.", [
        ["error", params.get("error")],
        ["error_description", params.get("error_description")],
        ["state", stateNote],
      ]);
      return;
    }
    if (!saved) {
      markStep("step-callback", "failed");
      showProblem("This tab has no record of starting a sign-in, so the code was not used. The verifier and state live in this tab's sessionStorage; start again from this tab.");
      return;
    }
    if (params.get("state") !== saved.state) {
      markStep("step-callback", "failed");
      showProblem("The state in the answer is not the one this page sent, so the code was not used. The answer may belong to another sign-in or be forged (a CSRF attempt).");
      return;
    }
    if (params.get("iss") !== saved.issuer) {
      markStep("step-callback", "failed");
      showProblem("The answer does not come from the expected issuer, so the code was not used (RFC 9207).", [
        ["expected iss", saved.issuer],
        ["received iss", params.get("iss") || "(none)"],
      ]);
      return;
    }
    markStep("step-callback", "done");
    setStatus("Swapping the code for a token…");
    exchangeCode(params.get("code"), saved);
  }

  function exchangeCode(code, saved) {
    var body = new URLSearchParams({
      grant_type: "authorization_code",
      code: code,
      redirect_uri: saved.redirectUri,
      client_id: saved.clientId,
      code_verifier: saved.verifier,
    });
    fetch(saved.issuer + "/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString(),
      credentials: "omit",
      cache: "no-store",
    }).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (json) {
        return { resp: resp, json: json };
      });
    }).then(function (r) {
      if (!r.resp.ok || !r.json || !r.json.access_token) {
        markStep("step-token", "failed");
        showProblem("Keystile refused to swap the code for a token.", [
          ["HTTP status", String(r.resp.status)],
          ["error", r.json && r.json.error],
          ["error_description", r.json && r.json.error_description],
        ]);
        return;
      }
      markStep("step-token", "done");
      showToken(r.json);
    }).catch(function (err) {
      markStep("step-token", "failed");
      showProblem("The token request did not reach Keystile: " + err.message);
    });
  }

  // --- showing the token --------------------------------------------------

  var claimMeanings = {
    iss: "Issuer: the Keystile server that made the token.",
    sub: "Subject: who signed in, as a stable identifier.",
    aud: "Audience: the API the token is meant for. An API refuses tokens for someone else.",
    client_id: "The app that asked for the token: this demo client.",
    exp: "Expiry: after this moment the token is refused.",
    iat: "Issued at: when Keystile made the token.",
    nbf: "Not before: the token is refused before this moment.",
    jti: "A unique id for this token.",
    scope: "What the app asked to do, as space-separated scopes.",
    auth_time: "When you signed in.",
    typ: "The kind of token.",
    name: "Your name, from your user entry (the profile scope).",
    preferred_username: "The name you sign in with (the profile scope).",
    email: "Your email address (the email scope).",
  };
  var timeClaims = { exp: true, iat: true, nbf: true, auth_time: true };

  function decodePart(part) {
    try {
      return JSON.parse(base64urlDecode(part));
    } catch (e) {
      return null;
    }
  }

  function showToken(resp) {
    var token = resp.access_token;
    var parts = token.split(".");
    var header = parts.length === 3 ? decodePart(parts[0]) : null;
    var claims = parts.length === 3 ? decodePart(parts[1]) : null;

    $("raw-token").textContent = token;
    $("token-header").textContent = header ? JSON.stringify(header, null, 2) : "(not a JWT)";
    $("token-claims").textContent = claims ? JSON.stringify(claims, null, 2) : "(not a JWT)";

    var summary = $("token-summary");
    summary.replaceChildren();
    [
      ["token_type", resp.token_type],
      ["expires_in", resp.expires_in !== undefined ? resp.expires_in + " seconds" : ""],
      ["scope", resp.scope],
      ["refresh_token", resp.refresh_token ? "issued too (not shown): it gets a new access token without signing in again" : ""],
      ["id_token", resp.id_token ? "issued too (not shown)" : ""],
    ].forEach(function (pair) {
      if (!pair[1]) return;
      var dt = document.createElement("dt");
      dt.textContent = pair[0];
      var dd = document.createElement("dd");
      dd.textContent = pair[1];
      summary.append(dt, dd);
    });

    var tbody = document.querySelector("#claims-table tbody");
    tbody.replaceChildren();
    Object.keys(claims || {}).forEach(function (name) {
      var value = claims[name];
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      th.scope = "row";
      var code = document.createElement("code");
      code.textContent = name;
      th.append(code);
      var tdValue = document.createElement("td");
      tdValue.textContent = typeof value === "string" ? value : JSON.stringify(value);
      if (timeClaims[name] && typeof value === "number") {
        tdValue.textContent += " (" + new Date(value * 1000).toLocaleString() + ")";
      }
      var tdMeaning = document.createElement("td");
      tdMeaning.textContent = claimMeanings[name] ||
        "A custom claim: it comes from the user's entry in the users file (or the validation callback), for APIs to check with RequireClaim.";
      tr.append(th, tdValue, tdMeaning);
      tbody.append(tr);
    });

    if (claims && typeof claims.exp === "number") {
      startCountdown(claims.exp);
    } else {
      $("expiry").textContent = "";
    }
    markStep("step-decode", claims ? "done" : "failed");
    $("result").hidden = false;
    setStatus("Signed in. The access token is below.");
    $("result-title").focus();
  }

  function startCountdown(exp) {
    var el = $("expiry");
    var at = new Date(exp * 1000);
    function tick() {
      var left = Math.round(exp - Date.now() / 1000);
      if (left <= 0) {
        el.textContent = "This token expired at " + at.toLocaleTimeString() + ". Sign in again for a new one.";
        el.classList.add("expired");
        clearInterval(countdown);
        countdown = null;
        return;
      }
      var m = Math.floor(left / 60);
      var s = left % 60;
      el.textContent = "Valid until " + at.toLocaleTimeString() + " (" + m + " min " + (s < 10 ? "0" : "") + s + " s left).";
    }
    if (countdown) clearInterval(countdown);
    el.classList.remove("expired");
    tick();
    countdown = setInterval(tick, 1000);
  }

  // --- start --------------------------------------------------------------

  function init() {
    $("cfg-client").textContent = config.clientId;
    $("cfg-redirect").textContent = config.redirectUri;
    $("cfg-issuer").textContent = config.issuer;
    $("result-title").tabIndex = -1;
    $("sign-in").addEventListener("click", signIn);
    $("start-over").addEventListener("click", startOver);

    var params = new URLSearchParams(location.search);
    if (params.has("code") || params.has("error")) {
      handleReturn(params);
    } else {
      setStatus("Ready. Press “Sign in with Keystile” to begin.");
    }
  }

  init();
})();
