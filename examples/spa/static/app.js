// A single-page app that signs in with the authorization code flow and
// PKCE (RFC 7636, S256), with no framework and no library: the browser's
// crypto.subtle makes the challenge, fetch redeems the code (the token
// endpoint answers this origin: the client's allowed_origins).
"use strict";

const b64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = () => b64url(crypto.getRandomValues(new Uint8Array(32)));

function show(state, problem) {
  document.body.dataset.state = state;
  document.getElementById("signed-out").hidden = state !== "signed-out";
  document.getElementById("session").hidden = state !== "signed-in";
  const p = document.getElementById("problem");
  p.hidden = !problem;
  p.textContent = problem || "";
}

async function signIn(cfg) {
  const verifier = random();
  const state = random();
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem("pkce", JSON.stringify({ verifier, state }));
  const q = new URLSearchParams({
    response_type: "code", client_id: cfg.client_id, redirect_uri: cfg.redirect_uri,
    scope: cfg.scope, state, code_challenge: challenge, code_challenge_method: "S256",
  });
  location.assign(cfg.issuer + "/authorize?" + q);
}

async function finish(cfg, params) {
  const saved = JSON.parse(sessionStorage.getItem("pkce") || "null");
  sessionStorage.removeItem("pkce");
  history.replaceState(null, "", location.pathname); // the code leaves the address bar
  if (params.get("error")) throw new Error(params.get("error") + ": " + (params.get("error_description") || ""));
  if (!saved || params.get("state") !== saved.state) throw new Error("the state does not match: not our sign-in");
  if (params.get("iss") !== cfg.issuer) throw new Error("the answer is from another issuer"); // RFC 9207
  const resp = await fetch(cfg.issuer + "/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", code: params.get("code"), redirect_uri: cfg.redirect_uri,
      client_id: cfg.client_id, code_verifier: saved.verifier,
    }),
  });
  const tok = await resp.json();
  if (!resp.ok) throw new Error(tok.error + ": " + tok.error_description);
  // Shown, not trusted: the API the token is for verifies it.
  const claims = JSON.parse(atob(tok.access_token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  document.getElementById("who").textContent = claims.sub;
  document.getElementById("role").textContent = claims.role ? "Role: " + claims.role : "";
}

async function main() {
  const cfg = await (await fetch("config.json")).json();
  document.getElementById("sign-in").addEventListener("click", () => signIn(cfg).catch((e) => show("error", e.message)));
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return show("signed-out");
  try {
    await finish(cfg, params);
    show("signed-in");
  } catch (e) {
    show("error", e.message);
  }
}

main();
