// Package sso logs in to IAM Identity Center (AWS SSO) and keeps the login
// alive, sharing it with every AWS SDK on the machine.
//
// The pieces:
//
//   - Session (config.go) is an [sso-session] section, or the sso_start_url
//     and sso_region of a legacy profile, read as the AWS CLI reads them,
//     with sso_registration_scopes.
//   - Token (cache.go) is an entry of the AWS CLI v2 token cache,
//     ~/.aws/sso/cache/<sha1>.json: the same eight fields, written 0600
//     through a temporary file and a rename, so that the AWS CLI v2,
//     botocore and aws-sdk-go-v2 all use the one login.
//   - Client (oidc.go) speaks to the SSO OIDC service through
//     aws-sdk-go-v2's ssooidc client, so endpoints resolve as the SDKs
//     resolve them (AWS_ENDPOINT_URL_SSO_OIDC, [services] sections,
//     sso_region). It registers with scopes so that refresh tokens are
//     issued, caches the registration, logs in with the authorization code
//     grant and PKCE through a loopback redirect or with the device code
//     grant (login.go), refreshes, and logs out at the portal.
//   - Discoverer (discovery.go) lists every account and role a login
//     reaches through the portal, paged, a few accounts at a time, with
//     backoff when throttled; RoleCache (discovery_cache.go) keeps the
//     listing, 0600, for a refresh interval.
//   - Keeper (keeper.go) refreshes the access tokens of the sessions the
//     agent serves ahead of their expiry, and says when a person must log
//     in again.
//
// What it protects against:
//
//   - Other local users reading tokens: cache files are written 0600 in a
//     0700 directory, and a cache file that others can read or that another
//     user owns is refused rather than used.
//   - A forged or stale browser redirect: the loopback listener accepts one
//     redirect, only with the state it generated (compared in constant
//     time), on 127.0.0.1 only; the code is useless without the PKCE
//     verifier, which never leaves the process.
//   - Losing a valid login: a refresh re-reads the cache first (the SDKs
//     rotate refresh tokens behind our back) and a failed refresh or login
//     never overwrites a token that still works.
//   - A hostile portal answer or role cache: account IDs and role names are
//     checked (ValidRole) before they reach a config file or a command
//     line, and account names are made safe before they reach a terminal.
//
// Tokens never appear in an error message or a log line.
package sso
