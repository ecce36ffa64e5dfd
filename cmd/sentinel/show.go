package main

import (
	"context"
	"log/slog"

	"github.com/sentinel-gw/sentinel/ports"
)

// shown is what a show command needs to know of its record type; show is
// the body they share: check the id, then (solo) open the store, store as
// expired what lapsed and find the record by id or prefix, or (team mode)
// ask the broker, and print it as JSON or as the type's detail table.
type shown[T any] struct {
	check  func(id string) error
	sweep  func(ctx context.Context, store ports.Stores, clock ports.Clock, logger *slog.Logger)
	find   func(ctx context.Context, store ports.Stores, id string) (T, error)
	remote func(ctx context.Context, b brokerAPI, id string) (T, error)
	detail func(env *Env, rec T) error
}

func (k shown[T]) show(g *Globals, env *Env, logger *slog.Logger, stores *runStore, id, output string) error {
	if err := k.check(id); err != nil {
		return err
	}
	ctx := context.Background()
	var rec T
	if g.team() {
		b, err := openBroker(ctx, g, env)
		if err != nil {
			return err
		}
		if rec, err = k.remote(ctx, b, id); err != nil {
			return err
		}
	} else {
		store, err := stores.open(ctx)
		if err != nil {
			return err
		}
		k.sweep(ctx, store, env.Clock, logger)
		if rec, err = k.find(ctx, store, id); err != nil {
			return err
		}
	}
	if output == "json" {
		return writeJSON(env.Stdout, rec)
	}
	return k.detail(env, rec)
}
