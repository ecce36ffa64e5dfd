package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/sentinel-gw/sentinel/adapters/metrics"
	"github.com/sentinel-gw/sentinel/adapters/policyfile"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/ports"
)

// execMetrics is what --metrics-listen adds to one exec --server run; every
// hook is a no-op without the flag.
type execMetrics struct {
	m    *metrics.Metrics
	stop func()
	wrap func(http.Handler) http.Handler
}

// startMetrics serves this session's metrics at --metrics-listen and hooks
// them in: the decision log counts outcomes, the handler is timed, policy
// reloads are observed; sessions (below) times the store.
func (c *ExecCmd) startMetrics(env *Env, policies *policyfile.Source, deps *gateway.Deps) (execMetrics, error) {
	if c.MetricsListen == "" {
		return execMetrics{stop: func() {}}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	m, done, err := serveMetrics(ctx, env, c.MetricsListen, policies)
	if err != nil {
		cancel()
		return execMetrics{}, err
	}
	deps.Log = m.DecisionLog(deps.Log)
	return execMetrics{m: m, stop: func() { cancel(); <-done }, wrap: m.InstrumentHandler}, nil
}

// serveMetrics serves Prometheus metrics at addr until ctx ends (done closes
// then), observes the policy in force and each reload, and says where.
// exec --server and serve share it.
func serveMetrics(ctx context.Context, env *Env, addr string, policies *policyfile.Source) (*metrics.Metrics, <-chan struct{}, error) {
	m := metrics.New(metrics.Options{Clock: env.Clock})
	at, done, err := m.Serve(ctx, addr)
	if err != nil {
		return nil, nil, fmt.Errorf("--metrics-listen %s: %w", addr, err)
	}
	// Subscribe reports the policy in force at once, then every reload.
	policies.Subscribe(func(r policyfile.Reload) { m.ObservePolicy(r.InForce, r.Err) })
	fmt.Fprintf(env.Stderr, "sentinel: metrics at http://%s%s\n", at, metrics.Path)
	return m, done, nil
}

// sessions is store, timed when metrics are on.
func (e execMetrics) sessions(store ports.SessionStore) ports.SessionStore {
	if e.m == nil {
		return store
	}
	return e.m.SessionStore(store)
}
