package fakeapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// denies reports whether doc holds a Deny statement that matches Action on
// "*" in the request context ctx (lower-case keys).
func denies(doc string, ctx map[string]string) (bool, error) {
	var d struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return false, err
	}
	var stmts []map[string]json.RawMessage
	if err := json.Unmarshal(d.Statement, &stmts); err != nil {
		var one map[string]json.RawMessage
		if err := json.Unmarshal(d.Statement, &one); err != nil {
			return false, err
		}
		stmts = append(stmts, one)
	}
	for _, st := range stmts {
		var effect string
		_ = json.Unmarshal(st["Effect"], &effect)
		if effect != "Deny" {
			continue // Allows are not modelled: everything is allowed unless denied
		}
		if st["NotAction"] != nil || st["NotResource"] != nil {
			return false, fmt.Errorf("NotAction and NotResource are not modelled")
		}
		actions, err := strings1(st["Action"])
		if err != nil || !anyGlob(actions, Action, true) {
			continue
		}
		resources, err := strings1(st["Resource"])
		if err != nil || !anyGlob(resources, "*", false) {
			continue
		}
		ok, err := conditions(st["Condition"], ctx)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// conditions reports whether every condition matches ctx.
func conditions(raw json.RawMessage, ctx map[string]string) (bool, error) {
	if raw == nil {
		return true, nil
	}
	var cond map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &cond); err != nil {
		return false, err
	}
	for op, keys := range cond {
		base, ifExists := strings.CutSuffix(op, "IfExists")
		for key, rawValues := range keys {
			values, err := strings1(rawValues)
			if err != nil {
				return false, err
			}
			have, present := ctx[strings.ToLower(key)]
			if !present {
				if ifExists {
					continue
				}
				return false, nil
			}
			match, err := matchOne(base, have, values)
			if err != nil {
				return false, err
			}
			if !match {
				return false, nil
			}
		}
	}
	return true, nil
}

// matchOne applies one operator: true when any value matches.
func matchOne(op, have string, values []string) (bool, error) {
	for _, v := range values {
		switch op {
		case "StringEquals":
			if have == v {
				return true, nil
			}
		case "StringLike":
			if glob(v, have, false) {
				return true, nil
			}
		case "DateLessThan", "DateGreaterThan":
			h, err1 := time.Parse(time.RFC3339, have)
			p, err2 := time.Parse(time.RFC3339, v)
			if err1 != nil || err2 != nil {
				return false, fmt.Errorf("%s: dates %q, %q must be RFC 3339", op, have, v)
			}
			if (op == "DateLessThan" && h.Before(p)) || (op == "DateGreaterThan" && h.After(p)) {
				return true, nil
			}
		default:
			return false, fmt.Errorf("condition operator %s is not modelled", op)
		}
	}
	return false, nil
}

// strings1 reads a policy value that is a string or a list of strings.
func strings1(raw json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	err := json.Unmarshal(raw, &many)
	return many, err
}

func anyGlob(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if glob(p, s, fold) {
			return true
		}
	}
	return false
}

// glob matches s against p, where * is any run of characters and ? any one.
func glob(p, s string, fold bool) bool {
	if fold {
		p, s = strings.ToLower(p), strings.ToLower(s)
	}
	if p == "" {
		return s == ""
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if glob(p[1:], s[i:], false) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && glob(p[1:], s[1:], false)
	default:
		return s != "" && s[0] == p[0] && glob(p[1:], s[1:], false)
	}
}
