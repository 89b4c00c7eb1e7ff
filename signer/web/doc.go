// Package web is aws-sso-signer's self-service web interface: sign up,
// verify the email address, log in, claim hostnames, create API keys and
// look after certificates. Its pages are rendered on the server with
// html/template and work without JavaScript.
//
// What it protects against:
//
//   - injection: every query is parameterized (package store), every
//     page escapes what it shows (html/template), and each form field is
//     checked against its own grammar before it is used; an email
//     address never carries a line break into a mail header;
//   - stolen databases: passwords are argon2id, sessions and one-time
//     tokens are kept only as SHA-256 hashes;
//   - brute force: failed logins are counted in the database per
//     submitted user name and per client address, known or not, and lock
//     out for a while; an unknown user and a wrong password get the same
//     answer after the same work (an argon2id hash of a dummy), and the
//     hashing itself is bounded in concurrency;
//   - session theft and fixation: the session cookie is __Host-,
//     HttpOnly, Secure and SameSite=Lax, and a new one is made at every
//     login; a password change ends every other session;
//   - cross-site request forgery: net/http.CrossOriginProtection refuses
//     cross-origin POSTs;
//   - click-jacking and content injection: Content-Security-Policy with
//     frame-ancestors 'none' and no inline script or style, X-Frame-Options
//     DENY, HSTS, nosniff, and no Referer (a reset link's token never
//     leaves in one);
//   - hostname takeover: deleting an account first revokes its
//     certificates, and the store keeps a deleted account's or a
//     released hostname from other accounts while a certificate for it
//     could still be valid (store.Quarantine).
package web
