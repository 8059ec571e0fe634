// Links an EIP-1193 wallet (window.ethereum) to the signed-in account, read-only: the wallet is
// asked for its accounts, its chain ID and one personal_sign of a Sign-In with Ethereum
// (EIP-4361) message. It is never asked to sign or send a transaction.
(function () {
  "use strict";
  var button = document.getElementById("connect-wallet");
  var status = document.getElementById("wallet-status");
  if (!button || !status) return;

  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "muted";
    status.setAttribute("role", isError ? "alert" : "status");
  }

  // --- keccak-256 (for the EIP-55 checksummed address that EIP-4361 requires) --------------
  var M = (1n << 64n) - 1n;
  var RC = [
    "0000000000000001", "0000000000008082", "800000000000808a", "8000000080008000",
    "000000000000808b", "0000000080000001", "8000000080008081", "8000000000008009",
    "000000000000008a", "0000000000000088", "0000000080008009", "000000008000000a",
    "000000008000808b", "800000000000008b", "8000000000008089", "8000000000008003",
    "8000000000008002", "8000000000000080", "000000000000800a", "800000008000000a",
    "8000000080008081", "8000000000008080", "0000000080000001", "8000000080008008",
  ].map(function (h) { return BigInt("0x" + h); });
  var RHO = [1, 3, 6, 10, 15, 21, 28, 36, 45, 55, 2, 14, 27, 41, 56, 8, 25, 43, 62, 18, 39, 61, 20, 44];
  var PI = [10, 7, 11, 17, 18, 3, 5, 16, 8, 21, 24, 4, 15, 23, 19, 13, 12, 2, 20, 14, 22, 9, 6, 1];

  function rotl(x, n) { return ((x << BigInt(n)) | (x >> BigInt(64 - n))) & M; }

  function permute(s) {
    for (var round = 0; round < 24; round++) {
      var c = [0, 1, 2, 3, 4].map(function (x) { return s[x] ^ s[x + 5] ^ s[x + 10] ^ s[x + 15] ^ s[x + 20]; });
      for (var x = 0; x < 5; x++) {
        var d = c[(x + 4) % 5] ^ rotl(c[(x + 1) % 5], 1);
        for (var y = 0; y < 25; y += 5) s[y + x] ^= d;
      }
      var cur = s[1];
      for (var t = 0; t < 24; t++) { var tmp = s[PI[t]]; s[PI[t]] = rotl(cur, RHO[t]); cur = tmp; }
      for (var r = 0; r < 25; r += 5) {
        var row = s.slice(r, r + 5);
        for (var i = 0; i < 5; i++) s[r + i] = row[i] ^ ((~row[(i + 1) % 5] & M) & row[(i + 2) % 5]);
      }
      s[0] ^= RC[round];
    }
  }

  function keccak256Hex(bytes) {
    var rate = 136, padded = Array.from(bytes);
    padded.push(0x01);
    while (padded.length % rate) padded.push(0);
    padded[padded.length - 1] |= 0x80;
    var s = new Array(25).fill(0n);
    for (var off = 0; off < padded.length; off += rate) {
      for (var lane = 0; lane < rate / 8; lane++) {
        var v = 0n;
        for (var b = 7; b >= 0; b--) v = (v << 8n) | BigInt(padded[off + lane * 8 + b]);
        s[lane] ^= v;
      }
      permute(s);
    }
    var out = "";
    for (var k = 0; k < 4; k++) {
      for (var j = 0; j < 8; j++) out += Number((s[k] >> BigInt(8 * j)) & 0xffn).toString(16).padStart(2, "0");
    }
    return out;
  }

  function checksumAddress(address) {
    var hex = address.toLowerCase().replace(/^0x/, "");
    if (!/^[0-9a-f]{40}$/.test(hex)) throw new Error("the wallet gave no valid address: " + address);
    var hash = keccak256Hex(new TextEncoder().encode(hex));
    var out = "0x";
    for (var i = 0; i < 40; i++) out += parseInt(hash[i], 16) >= 8 ? hex[i].toUpperCase() : hex[i];
    return out;
  }
  window.hexavatarChecksumAddress = checksumAddress; // for tests and the curious

  // --- Sign-In with Ethereum ---------------------------------------------------------------
  function siweText(f) {
    return [
      f.scheme + "://" + f.domain + " wants you to sign in with your Ethereum account:",
      f.address, "", f.statement, "",
      "URI: " + f.uri, "Version: 1", "Chain ID: " + f.chainId, "Nonce: " + f.nonce,
      "Issued At: " + f.issuedAt, "Expiration Time: " + f.expiresAt,
    ].join("\n");
  }

  function utf8Hex(text) {
    return "0x" + Array.from(new TextEncoder().encode(text), function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  async function json(response) {
    var body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      var err = body && body.error;
      throw new Error(err ? err.message : "the service answered " + response.status);
    }
    return body;
  }

  async function connect() {
    var eth = window.ethereum;
    say("Waiting for your wallet to share an account…");
    var accounts = await eth.request({ method: "eth_requestAccounts" });
    if (!accounts || !accounts.length) throw new Error("the wallet shared no account");
    var address = checksumAddress(accounts[0]);
    var chainId = parseInt(await eth.request({ method: "eth_chainId" }), 16);
    var info = await json(await fetch("/api/v1/auth/siwe/nonce", { credentials: "same-origin" }));
    if (info.chain_ids.indexOf(chainId) < 0) {
      throw new Error("your wallet is on chain " + chainId + "; switch it to chain " +
        info.chain_ids.join(" or ") + " and try again");
    }
    var message = siweText({
      scheme: info.scheme, domain: info.domain, address: address,
      statement: "Link this wallet to my Hexavatar account. This is not a transaction and costs nothing.",
      uri: info.uri, chainId: chainId, nonce: info.nonce, issuedAt: info.issued_at, expiresAt: info.expires_at,
    });
    say("Sign the message in your wallet to prove you hold " + address + "…");
    var signature = await eth.request({ method: "personal_sign", params: [utf8Hex(message), address] });
    say("Checking the signature…");
    await json(await fetch("/api/v1/me/wallets", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ message: message, signature: signature }),
    }));
    say("Linked " + address + ".");
    window.location.assign("/wallets");
  }

  if (!window.ethereum || typeof window.ethereum.request !== "function") {
    say("No Ethereum wallet was found in this browser. Install a wallet extension to link an address.");
    return;
  }
  button.hidden = false;
  say("Your wallet will ask you to sign a message. Nothing is sent on-chain.");
  button.addEventListener("click", function () {
    button.disabled = true;
    connect().catch(function (e) {
      say("Not linked: " + (e && e.message ? e.message : String(e)), true);
    }).finally(function () { button.disabled = false; });
  });
})();
