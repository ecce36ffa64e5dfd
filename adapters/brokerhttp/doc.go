// Package brokerhttp is the team broker's HTTP transport: the handler and
// listener `sentinel serve` runs, and the client every command given
// --broker uses. The broker is stateless; many replicas can run behind a
// load balancer.
//
// # API
//
// Every operation is a POST of a JSON body (Content-Type application/json,
// at most 64 KiB, unknown fields refused; an empty body is the empty input)
// answered with JSON. Each carries the caller's proof of identity in
// "Authorization: Sentinel-STS <proof>" (a signed sts:GetCallerIdentity
// request, see ports.CallerSigner), which the broker checks with its
// ports.CallerVerifier before anything else is read.
//
//	path                        input (ports.*)            answer
//	/v1/whoami                  {}                         Identity
//	/v1/sessions/open           OpenSessionInput           OpenSessionOutput
//	/v1/sessions/heartbeat      {"id": session}            Session
//	/v1/sessions/close          {"id": session}            {}
//	/v1/sessions/credentials    SessionCredentialsInput    Credentials (this package's)
//	/v1/credentials             OneShotInput               Credentials (this package's)
//	/v1/sessions/list           ListSessionsInput          SessionPage
//	/v1/sessions/show           {"id": session or prefix}  Session
//	/v1/sessions/revoke         RevokeInput                RevokeOutput
//	/v1/requests/create         RequestInput               RequestOutput
//	/v1/requests/decide         DecideInput                RequestOutput
//	/v1/requests/cancel         {"id": request}            RequestOutput
//	/v1/requests/list           ListRequestsInput          [ApprovalRequest]
//	/v1/requests/show           {"id": request}            ApprovalRequest
//	/v1/breakglass/open         BreakGlassInput            BreakGlassOutput
//	/v1/breakglass/close        CloseBreakGlassInput       BreakGlassOutput
//	/v1/breakglass/list         ListBreakGlassInput        [BreakGlassEvent]
//	/v1/breakglass/show         {"id": event}              BreakGlassEvent
//
// GET (or HEAD) /healthz answers 200 while the process runs; GET /readyz
// answers 200 when BrokerService.Ready succeeds and 503 otherwise (the
// reason is logged, not served). Neither needs a proof.
//
// Durations are JSON integers of nanoseconds (time.Duration), times RFC 3339.
//
// # Errors
//
// A refusal is {"error": {"code", "message", "request_id", ...typed
// fields}}; errorResponse is the one place that decides code and status
// (403 policy, lock, revoked, expired, forbidden; 401 no valid proof; 404;
// 400 bad input; 409 conflicts and invalid transitions; 429 too many
// failed proofs; 502 the credential source; 503 unavailable; 500 anything
// else, with a fixed sentence). The client rebuilds the gateway's typed
// errors with their fields, and otherwise returns an *Error that matches
// the ports error values with errors.Is, so callers handle a remote refusal
// as a local one. Every answer carries X-Request-Id (a caller's own, when
// short and plain, is kept); the broker's log lines carry it too, and never
// a proof, a token or a credential.
//
// # Transport
//
// TLS 1.2 or later. Plain HTTP is refused unless the listener is on a
// loopback address (and then logged loudly); the client likewise refuses
// http:// to any host but a loopback one. Timeouts and header limits are
// those of the local credential server; failed proofs are throttled per
// remote address (behind a load balancer that is the balancer's address,
// so keep its health checks on /healthz and /readyz, which are never
// throttled).
package brokerhttp
