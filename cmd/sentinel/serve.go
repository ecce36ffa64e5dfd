package main

import (
	"errors"
	"time"
)

// ServeCmd runs the team broker: an HTTPS service that alone holds the
// store, the policy and the AWS identity the target roles trust.
type ServeCmd struct {
	Listen          string        `help:"Address to listen on (host:port). Plain HTTP (no --tls-cert) is allowed only on a loopback address." required:"" placeholder:"ADDR"`
	Policy          string        `help:"Policy file; reloaded when it changes (an invalid new policy is refused and the old one stays)." env:"SENTINEL_POLICY" default:"${default_policy}" type:"path"`
	TLSCert         string        `name:"tls-cert" help:"TLS certificate (PEM) for the listener." type:"path" placeholder:"FILE"`
	TLSKey          string        `name:"tls-key" help:"TLS private key (PEM) for the listener." type:"path" placeholder:"FILE"`
	BrokerID        string        `name:"broker-id" help:"The name callers sign into X-Sentinel-Broker: the host name of the broker's URL as clients reach it (default: the host of --listen)." env:"SENTINEL_BROKER_ID" placeholder:"ID"`
	LogFile         string        `help:"Decision log (JSON Lines): - for stdout, or a file." env:"SENTINEL_LOG_FILE" default:"-"`
	MetricsListen   string        `help:"Serve Prometheus metrics at /metrics on this separate address." placeholder:"ADDR"`
	ServerDuration  time.Duration `help:"Lifetime of each served credential, before policy caps it." default:"20m"`
	Heartbeat       time.Duration `help:"How often clients renew their session lease." default:"20s"`
	Lease           time.Duration `help:"How long a session outlives its last heartbeat before it counts as expired." default:"60s"`
	ShutdownTimeout time.Duration `help:"How long a shutdown waits for in-flight requests." default:"20s"`
}

// Help shows an example.
func (ServeCmd) Help() string {
	return `Clients prove their AWS identity with a signed sts:GetCallerIdentity
request and name only a profile; the broker's own AWS config maps each
profile to the role it assumes. Users need no store access and no policy.

Example:
  sentinel serve --listen :8443 --tls-cert cert.pem --tls-key key.pem \
    --store dynamodb://sentinel?region=eu-west-1 --policy /etc/sentinel/policy.yaml`
}

// Run serves until SIGINT or SIGTERM.
func (c *ServeCmd) Run() error {
	return errors.New("sentinel serve: not wired yet")
}
