// The Keystile demo client: OpenID Connect sign-in with the authorization
// code flow and PKCE (RFC 7636), userinfo, refresh and RP-initiated logout,
// in a single page, with no library and no build step.
//
// Everything shown comes from textContent, never innerHTML, and nothing is
// inline, so the page works under "script-src 'self'; style-src 'self'".
// The tokens live in this script's memory only: a reload forgets them (the
// Keystile session signs you in again without a password).
(function () {
  "use strict";

  // Settings, from data- attributes on <body>; empty ones are derived from
  // the page's own address.
  var data = document.body.dataset;
  var here = location.origin + location.pathname;
  var config = {
    issuer: (data.issuer || location.origin).replace(/\/+$/, ""),
    clientId: data.clientId || "demo",
    redirectUri: data.redirectUri || here,
    scope: data.scope || "openid profile email",
  };
  config.postLogoutRedirectUri = data.postLogoutRedirectUri || config.redirectUri;

  var pendingKey = "keystile-demo-pending"; // a sign-in on its way
  var logoutKey = "keystile-demo-logout"; // a sign-out on its way

  var $ = function (id) { return document.getElementById(id); };
  var countdown = null;
  var endpoints = null; // from discovery, see discover()
  var tokens = null; // the current token response, in memory only

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

  // A query string with spaces as %20 (URLSearchParams writes "+").
  function query(params) {
    return new URLSearchParams(params).toString().replace(/\+/g, "%20");
  }

  // decodeJWT returns {header, claims} of a JWT, or null. It does not check
  // the signature.
  function decodeJWT(token) {
    var parts = (token || "").split(".");
    if (parts.length !== 3) return null;
    try {
      return { header: JSON.parse(base64urlDecode(parts[0])), claims: JSON.parse(base64urlDecode(parts[1])) };
    } catch (e) {
      return null;
    }
  }

  // --- page state ---------------------------------------------------------

  function setStatus(text) {
    $("status").textContent = text;
  }

  function setState(state) {
    document.body.dataset.state = state;
  }

  function markStep(id, outcome) {
    var el = $(id);
    if (!el) return;
    el.classList.remove("done", "failed");
    if (outcome) el.classList.add(outcome);
  }

  function fillDetails(dl, pairs) {
    dl.replaceChildren();
    pairs.forEach(function (pair) {
      if (!pair[1]) return;
      var dt = document.createElement("dt");
      dt.textContent = pair[0];
      var dd = document.createElement("dd");
      dd.textContent = pair[1];
      dl.append(dt, dd);
    });
  }

  function showProblem(text, details) {
    $("problem-text").textContent = text;
    fillDetails($("problem-details"), details || []);
    $("problem").hidden = false;
    $("start-over").hidden = false;
    $("sign-in").disabled = false;
    setStatus("");
    setState("error");
    $("problem").scrollIntoView({ block: "nearest" });
  }

  // fetchFailed explains a fetch that threw: the browser gives no detail,
  // and the usual cause for a page on another origin is CORS.
  function fetchFailed(what, err) {
    var crossOrigin = new URL(config.issuer).origin !== location.origin;
    showProblem(what + " did not reach Keystile, or the browser did not let this page read the answer.", [
      ["browser said", err.message],
      ["likely cause", crossOrigin
        ? "This page's origin (" + location.origin + ") is not in the allowed_origins of client " + config.clientId + ", so Keystile's answer carries no CORS permission for it (the browser console shows a CORS error)."
        : "Keystile is not running at " + config.issuer + "."],
    ]);
  }

  function startOver() {
    sessionStorage.removeItem(pendingKey);
    sessionStorage.removeItem(logoutKey);
    if (countdown) clearInterval(countdown);
    countdown = null;
    tokens = null;
    history.replaceState(null, "", location.pathname);
    ["problem", "session", "userinfo-card", "id-token-card", "access-token-card", "start-over"].forEach(function (id) {
      $(id).hidden = true;
    });
    $("sign-in").hidden = false;
    $("sign-in").disabled = false;
    ["step-pkce", "step-authorize", "step-callback", "step-token", "step-decode", "step-userinfo", "step-refresh", "step-logout"].forEach(function (id) {
      markStep(id, null);
    });
    setState("ready");
    setStatus("Ready. Press “Sign in with Keystile” to begin.");
    $("sign-in").focus();
  }

  // --- step 1: discovery --------------------------------------------------

  // The fixed paths of a Keystile server, when discovery cannot be read.
  function fixedEndpoints() {
    return {
      authorization_endpoint: config.issuer + "/authorize",
      token_endpoint: config.issuer + "/token",
      userinfo_endpoint: config.issuer + "/userinfo",
      end_session_endpoint: config.issuer + "/logout",
      source: "fixed paths (no discovery document could be read)",
    };
  }

  function fetchMetadata(path) {
    return fetch(config.issuer + path, { credentials: "omit", cache: "no-store" }).then(function (resp) {
      if (!resp.ok) throw new Error(path + ": HTTP " + resp.status);
      return resp.json();
    }).then(function (doc) {
      // A document for another issuer is refused: it could send the code
      // and the verifier to someone else (a mix-up, RFC 9207 §1).
      if (!doc || doc.issuer !== config.issuer) {
        throw new Error(path + " names the issuer " + (doc && doc.issuer) + ", not " + config.issuer);
      }
      doc.source = path;
      return doc;
    });
  }

  // discover reads OpenID Connect Discovery, then RFC 8414 metadata, then
  // falls back to Keystile's fixed paths. It never fails.
  function discover() {
    if (endpoints) return Promise.resolve(endpoints);
    return fetchMetadata("/.well-known/openid-configuration").catch(function () {
      return fetchMetadata("/.well-known/oauth-authorization-server");
    }).catch(function () {
      return fixedEndpoints();
    }).then(function (doc) {
      var fixed = fixedEndpoints();
      endpoints = {
        authorization_endpoint: doc.authorization_endpoint || fixed.authorization_endpoint,
        token_endpoint: doc.token_endpoint || fixed.token_endpoint,
        userinfo_endpoint: doc.userinfo_endpoint || fixed.userinfo_endpoint,
        end_session_endpoint: doc.end_session_endpoint || fixed.end_session_endpoint,
        source: doc.source,
      };
      fillDetails($("endpoints"), [
        ["from", endpoints.source],
        ["authorize", endpoints.authorization_endpoint],
        ["token", endpoints.token_endpoint],
        ["userinfo", endpoints.userinfo_endpoint],
        ["sign-out", endpoints.end_session_endpoint],
      ]);
      markStep("step-discover", "done");
      return endpoints;
    });
  }

  // --- steps 2 and 3: build the request and leave -------------------------

  function signIn() {
    if (!window.crypto || !crypto.subtle) {
      showProblem("This browser does not offer Web Crypto here. Open the demo on http://127.0.0.1 or http://localhost, or over https.");
      return;
    }
    $("sign-in").disabled = true;
    var verifier = randomValue(32); // 43 characters, RFC 7636 §4.1
    var state = randomValue(16);
    var nonce = randomValue(16);
    Promise.all([discover(), challengeFor(verifier)]).then(function (r) {
      var ep = r[0];
      sessionStorage.setItem(pendingKey, JSON.stringify({
        verifier: verifier,
        state: state,
        nonce: nonce,
        issuer: config.issuer,
        clientId: config.clientId,
        redirectUri: config.redirectUri,
        tokenEndpoint: ep.token_endpoint,
      }));
      markStep("step-pkce", "done");
      setStatus("Taking you to Keystile's sign-in page…");
      location.assign(ep.authorization_endpoint + "?" + query({
        response_type: "code",
        client_id: config.clientId,
        redirect_uri: config.redirectUri,
        scope: config.scope,
        state: state,
        nonce: nonce,
        code_challenge: r[1],
        code_challenge_method: "S256",
      }));
    }).catch(function (err) {
      $("sign-in").disabled = false;
      showProblem("Could not start the sign-in: " + err.message);
    });
  }

  // --- steps 4 to 6: the way back -----------------------------------------

  function handleReturn(params) {
    // The code must not stay in the address bar, the history or a bookmark.
    history.replaceState(null, "", location.pathname);
    $("start-over").hidden = false;
    markStep("step-pkce", "done");
    markStep("step-authorize", "done");

    // The verifier, state and nonce are single use: take them out now.
    var saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(pendingKey) || "null");
    } catch (e) {
      saved = null;
    }
    sessionStorage.removeItem(pendingKey);

    if (params.get("error")) {
      markStep("step-callback", "failed");
      showProblem("Keystile sent you back with an error instead of a code.", [
        ["error", params.get("error")],
        ["error_description", params.get("error_description")],
        ["state", saved && params.get("state") === saved.state
          ? "matches the one this page sent"
          : "does not match a sign-in this tab started"],
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
    setStatus("Swapping the code for tokens…");
    tokenRequest({
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: saved.redirectUri,
      client_id: saved.clientId,
      code_verifier: saved.verifier,
    }, saved.tokenEndpoint, "The token request").then(function (resp) {
      if (!resp) {
        markStep("step-token", "failed");
        return;
      }
      markStep("step-token", "done");
      var problem = checkIDToken(resp.id_token, saved.nonce);
      if (problem) {
        markStep("step-decode", "failed");
        showProblem("The ID token is not for this sign-in, so the page does not trust it.", [["why", problem]]);
        return;
      }
      markStep("step-decode", "done");
      showTokens(resp);
      setStatus("");
      $("session-status").textContent = "Signed in.";
      $("session-title").focus();
    });
  }

  // tokenRequest POSTs a form to the token endpoint and returns the token
  // response, or null after showing what went wrong.
  function tokenRequest(form, endpoint, what) {
    return fetch(endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: query(form),
      credentials: "omit",
      cache: "no-store",
    }).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (json) {
        if (!resp.ok || !json || !json.access_token) {
          showProblem("Keystile refused: " + what.toLowerCase() + " got no tokens.", [
            ["HTTP status", String(resp.status)],
            ["error", json && json.error],
            ["error_description", json && json.error_description],
          ]);
          return null;
        }
        return json;
      });
    }).catch(function (err) {
      fetchFailed(what, err);
      return null;
    });
  }

  // checkIDToken does the ID token checks of OIDC Core §3.1.3.7 that need no
  // key: issuer, audience, expiry and nonce. It returns a problem, or "".
  function checkIDToken(idToken, nonce) {
    if (!idToken) return config.scope.split(" ").indexOf("openid") >= 0 ? "the token response has no id_token" : "";
    var jwt = decodeJWT(idToken);
    if (!jwt) return "the id_token is not a JWT";
    var c = jwt.claims;
    if (c.iss !== config.issuer) return "iss is " + c.iss + ", not " + config.issuer;
    var aud = Array.isArray(c.aud) ? c.aud : [c.aud];
    if (aud.indexOf(config.clientId) < 0) return "aud does not name this client (" + config.clientId + ")";
    if (typeof c.exp !== "number" || c.exp * 1000 < Date.now() - 60000) return "the id_token has expired";
    if (nonce !== null && c.nonce !== nonce) return "nonce is not the one this page sent";
    return "";
  }

  // --- showing the tokens -------------------------------------------------

  var claimMeanings = {
    iss: "Issuer: the Keystile server that made the token.",
    sub: "Subject: who signed in, as a stable identifier.",
    aud: "Audience: who the token is for. An ID token is for this app; an access token for the API.",
    azp: "Authorized party: the app the ID token was issued to.",
    client_id: "The app that asked for the token: this demo client.",
    exp: "Expiry: after this moment the token is refused.",
    iat: "Issued at: when Keystile made the token.",
    nbf: "Not before: the token is refused before this moment.",
    jti: "A unique id for this token.",
    scope: "What the app asked to do, as space-separated scopes.",
    auth_time: "When you typed your password.",
    nonce: "The random value this page sent; it proves the ID token answers this sign-in.",
    at_hash: "A hash of the access token, binding the two tokens together.",
    sid: "The Keystile session this sign-in belongs to.",
    name: "Your name (the profile scope).",
    preferred_username: "The name you sign in with (the profile scope).",
    email: "Your email address (the email scope).",
    email_verified: "Whether the email address was checked (the email scope).",
  };
  var timeClaims = { exp: true, iat: true, nbf: true, auth_time: true };

  function fillClaimsTable(table, claims) {
    var tbody = table.querySelector("tbody");
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
  }

  function showJWT(prefix, token) {
    var jwt = decodeJWT(token);
    $(prefix + "-header").textContent = jwt ? JSON.stringify(jwt.header, null, 2) : "(not a JWT)";
    $(prefix + "-claims").textContent = jwt ? JSON.stringify(jwt.claims, null, 2) : "(not a JWT)";
    fillClaimsTable($(prefix + "-table"), jwt && jwt.claims);
    return jwt;
  }

  // showTokens shows a token response. A refresh may come without an
  // id_token; the last one stays (it is also the logout hint).
  function showTokens(resp) {
    var idToken = resp.id_token || (tokens && tokens.id_token);
    tokens = {
      access_token: resp.access_token,
      refresh_token: resp.refresh_token || (tokens && tokens.refresh_token),
      id_token: idToken,
      scope: resp.scope,
    };
    var id = idToken ? showJWT("id-token", idToken) : null;
    $("id-token-card").hidden = !id;
    var at = showJWT("access-token", resp.access_token);
    $("raw-token").textContent = resp.access_token;
    $("access-token-card").hidden = false;

    var who = (id && id.claims) || (at && at.claims) || {};
    $("who").textContent = who.name || who.preferred_username || who.sub || "(unknown)";
    fillDetails($("session-summary"), [
      ["subject", who.sub],
      ["client", config.clientId],
      ["scope", resp.scope],
      ["refresh token", tokens.refresh_token ? "yes (kept in memory, not shown)" : "none"],
    ]);
    $("refresh").hidden = !tokens.refresh_token;
    $("sign-in").hidden = true;
    $("session").hidden = false;
    $("problem").hidden = true;
    if (at && typeof at.claims.exp === "number") startCountdown(at.claims.exp);
    setState("signed-in");
  }

  function startCountdown(exp) {
    var el = $("expiry");
    var at = new Date(exp * 1000);
    function tick() {
      var left = Math.round(exp - Date.now() / 1000);
      if (left <= 0) {
        el.textContent = "The access token expired at " + at.toLocaleTimeString() + ". Refresh it, or sign in again.";
        el.classList.add("expired");
        clearInterval(countdown);
        countdown = null;
        return;
      }
      var m = Math.floor(left / 60);
      var s = left % 60;
      el.textContent = "Access token valid until " + at.toLocaleTimeString() + " (" + m + " min " + (s < 10 ? "0" : "") + s + " s left).";
    }
    if (countdown) clearInterval(countdown);
    el.classList.remove("expired");
    tick();
    countdown = setInterval(tick, 1000);
  }

  // --- steps 7 to 9: using the session ------------------------------------

  function callUserinfo() {
    if (!tokens) return;
    $("session-status").textContent = "Asking /userinfo…";
    discover().then(function (ep) {
      return fetch(ep.userinfo_endpoint, {
        headers: { Authorization: "Bearer " + tokens.access_token },
        credentials: "omit",
        cache: "no-store",
      });
    }).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (json) {
        if (!resp.ok || !json) {
          markStep("step-userinfo", "failed");
          showProblem("/userinfo refused the access token.", [
            ["HTTP status", String(resp.status)],
            ["WWW-Authenticate", resp.headers.get("WWW-Authenticate")],
          ]);
          return;
        }
        markStep("step-userinfo", "done");
        $("userinfo").textContent = JSON.stringify(json, null, 2);
        $("userinfo-card").hidden = false;
        $("session-status").textContent = "/userinfo answered at " + new Date().toLocaleTimeString() + ".";
      });
    }).catch(function (err) {
      markStep("step-userinfo", "failed");
      fetchFailed("The /userinfo request", err);
    });
  }

  function refresh() {
    if (!tokens || !tokens.refresh_token) return;
    $("refresh").disabled = true;
    $("session-status").textContent = "Refreshing…";
    var before = decodeJWT(tokens.access_token);
    discover().then(function (ep) {
      return tokenRequest({
        grant_type: "refresh_token",
        refresh_token: tokens.refresh_token,
        client_id: config.clientId,
      }, ep.token_endpoint, "The refresh");
    }).then(function (resp) {
      $("refresh").disabled = false;
      if (!resp) {
        markStep("step-refresh", "failed");
        return;
      }
      // A refreshed ID token carries no nonce (OIDC Core §12.2).
      var problem = resp.id_token ? checkIDToken(resp.id_token, null) : "";
      if (problem) {
        markStep("step-refresh", "failed");
        showProblem("The refreshed ID token is not for this app.", [["why", problem]]);
        return;
      }
      markStep("step-refresh", "done");
      showTokens(resp);
      var after = decodeJWT(resp.access_token);
      $("session-status").textContent = "Refreshed at " + new Date().toLocaleTimeString() +
        ": a new access token" + (before && after && before.claims.jti !== after.claims.jti ? " (new jti " + after.claims.jti + ")" : "") +
        (resp.refresh_token ? " and a new refresh token; the old one no longer works." : ".");
    });
  }

  function signOut() {
    if (!tokens) return;
    var state = randomValue(16);
    sessionStorage.setItem(logoutKey, JSON.stringify({ state: state, issuer: config.issuer }));
    discover().then(function (ep) {
      var params = {
        client_id: config.clientId,
        post_logout_redirect_uri: config.postLogoutRedirectUri,
        state: state,
      };
      if (tokens.id_token) params.id_token_hint = tokens.id_token;
      tokens = null;
      markStep("step-logout", "done");
      $("session-status").textContent = "Taking you to Keystile to sign out…";
      location.assign(ep.end_session_endpoint + "?" + query(params));
    });
  }

  // handleLogoutReturn is the way back from Keystile's sign-out page.
  function handleLogoutReturn(params) {
    history.replaceState(null, "", location.pathname);
    var saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(logoutKey) || "null");
    } catch (e) {
      saved = null;
    }
    sessionStorage.removeItem(logoutKey);
    if (!saved || params.get("state") !== saved.state) {
      showProblem("This page was opened with a state it did not send, so it ignored it.");
      return;
    }
    markStep("step-logout", "done");
    setState("signed-out");
    setStatus("You are signed out of Keystile. Signing in again will ask for your password.");
  }

  // --- start --------------------------------------------------------------

  function init() {
    $("cfg-client").textContent = config.clientId;
    $("cfg-redirect").textContent = config.redirectUri;
    $("cfg-issuer").textContent = config.issuer;
    $("link-discovery").href = config.issuer + "/.well-known/openid-configuration";
    $("link-metadata").href = config.issuer + "/.well-known/oauth-authorization-server";
    $("link-jwks").href = config.issuer + "/.well-known/jwks.json";
    $("sign-in").addEventListener("click", signIn);
    $("start-over").addEventListener("click", startOver);
    $("call-userinfo").addEventListener("click", callUserinfo);
    $("refresh").addEventListener("click", refresh);
    $("sign-out").addEventListener("click", signOut);

    var params = new URLSearchParams(location.search);
    if (params.has("code") || params.has("error")) {
      discover().then(function () { handleReturn(params); });
    } else if (params.has("state") && sessionStorage.getItem(logoutKey)) {
      discover().then(function () { handleLogoutReturn(params); });
    } else {
      discover();
      setStatus("Ready. Press “Sign in with Keystile” to begin.");
    }
  }

  init();
})();
