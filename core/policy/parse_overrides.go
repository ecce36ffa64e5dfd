package policy

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

var (
	approvalFields     = []string{"name", "profiles", "approvers", "auto_approve"}
	autoApproveFields  = []string{"users", "time", "max_duration"}
	breakGlassFields   = []string{"name", "profiles", "users", "reason_codes", "max_duration", "cooldown", "max_per_user", "max_per_profile", "window", "escalation_threshold"}
	notificationFields = []string{"webhooks"}
	webhookFields      = []string{"name", "url", "secret_env", "events", "timeout"}
)

var policyHints = map[string]string{
	"approval":    `did you mean "approvals"?`,
	"break_glass": `did you mean "breakglass"?`,
	"webhooks":    "webhooks belongs under notifications: (notifications: {webhooks: [...]})",
}

var approvalHints = map[string]string{
	"users":        "users belongs under auto_approve: (approvers are who approve; auto_approve: {users: [...]} approves without a person)",
	"time":         "time belongs under auto_approve:",
	"max_duration": "max_duration belongs under auto_approve: (a request lasts at most 8h anyway)",
	"conditions":   "an approval rule takes profiles directly: write profiles: [...]",
	"effect":       "an approval rule has no effect: it says who approves requests for its profiles",
}

var breakGlassHints = map[string]string{
	"reasons":    `did you mean "reason_codes"?`,
	"approvers":  "break-glass needs no approver: users lists who may invoke it",
	"conditions": "a break-glass rule takes profiles and users directly: write profiles: [...] and users: [...]",
	"effect":     "a break-glass rule has no effect: it says who may invoke break-glass for its profiles",
}

var webhookHints = map[string]string{
	"secret":  "the secret never goes in the policy file: name the environment variable that holds it with secret_env",
	"headers": "webhooks take no headers: each delivery is signed with the secret named by secret_env",
}

// overrideSections parses the optional top-level approvals, breakglass and
// notifications sections.
func (p *parser) overrideSections(pol *Policy, f map[string]field) {
	p.sectionNames = map[string]map[string]int{}
	if v, ok := f["approvals"]; ok {
		for i, n := range p.section(v.value, "approvals", "approval rules") {
			if r, ok := p.approvalRule(i, n); ok {
				pol.Approvals = append(pol.Approvals, r)
			}
		}
	}
	if v, ok := f["breakglass"]; ok {
		for i, n := range p.section(v.value, "breakglass", "break-glass rules") {
			if r, ok := p.breakGlassRule(i, n); ok {
				pol.BreakGlass = append(pol.BreakGlass, r)
			}
		}
	}
	if v, ok := f["notifications"]; ok {
		pol.Webhooks = p.notifications(v.value)
	}
}

// section returns the entries of a list of named mappings.
func (p *parser) section(n *yaml.Node, what, items string) []*yaml.Node {
	switch {
	case isNull(n):
		p.fail(n, "%s is empty: remove it, or list %s (each starting with '- name:')", what, items)
		return nil
	case n.Kind != yaml.SequenceNode:
		p.fail(n, "%s must be a list of %s (each starting with '- name:'), got %s", what, items, describe(n))
		return nil
	}
	out := make([]*yaml.Node, len(n.Content))
	for i, item := range n.Content {
		out[i] = resolve(item)
	}
	return out
}

// entryName reads the required, section-unique name of entry index of what.
func (p *parser) entryName(n *yaml.Node, f map[string]field, index int, section, what string) string {
	v, ok := f["name"]
	if !ok {
		p.fail(n, "%s %d has no name: add name: <a unique name>", what, index+1)
		return ""
	}
	s, ok := p.scalar(v.value, "name")
	if !ok {
		return ""
	}
	seen := p.sectionNames[section]
	if seen == nil {
		seen = map[string]int{}
		p.sectionNames[section] = seen
	}
	if first, dup := seen[s]; dup {
		p.fail(v.value, "duplicate %s name %q (first used at line %d): names in %s must be unique", what, s, first, section)
	} else {
		seen[s] = v.value.Line
	}
	return s
}

// requiredUsers reads a user list that must name at least one entry.
func (p *parser) requiredUsers(n *yaml.Node, f map[string]field, key, noun, whose, missing string) []string {
	v, ok := f[key]
	if !ok {
		p.fail(n, "%s has no %s: %s", whose, key, missing)
		return nil
	}
	if isNull(v.value) {
		p.fail(v.value, "%s is empty: %s", key, missing)
		return nil
	}
	users, good := p.userList(v.value, key, noun)
	if good && len(users) == 0 {
		p.fail(v.value, "%s is an empty list: %s", key, missing)
	}
	return users
}

// duration reads a positive Go duration no longer than limit (0: no limit).
func (p *parser) duration(n *yaml.Node, what string, limit time.Duration, why string) (time.Duration, bool) {
	s, ok := p.scalar(n, what)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		p.fail(n, `invalid %s %q: use a Go duration such as "30m", "1h" or "1h30m"`, what, s)
		return 0, false
	case d <= 0:
		p.fail(n, `%s must be positive, got %q: give a duration such as "30m", or remove it`, what, s)
		return 0, false
	case limit > 0 && d > limit:
		p.fail(n, "%s %s is longer than %s, %s", what, s, FormatDuration(limit), why)
		return 0, false
	}
	return d, true
}

// count reads a positive whole number.
func (p *parser) count(n *yaml.Node, what, meaning string) (int, bool) {
	s, ok := p.scalar(n, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil || v <= 0 || n.Tag != "!!int" {
		p.fail(n, "%s must be a positive whole number, got %q: %s, or remove it for no limit", what, s, meaning)
		return 0, false
	}
	return int(v), true
}

// FormatDuration prints d without trailing zero units ("4h", "1h30m",
// "90s"), for messages people read.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func (p *parser) approvalRule(index int, n *yaml.Node) (ApprovalRule, bool) {
	r := ApprovalRule{Line: n.Line}
	if !p.mapping(n, fmt.Sprintf("approval rule %d", index+1), "give each approval rule name, approvers and optional profiles and auto_approve") {
		return r, false
	}
	f := p.fields(n, "an approval rule", approvalFields, approvalHints)
	r.Name = p.entryName(n, f, index, "approvals", "approval rule")
	if v, ok := f["profiles"]; ok {
		r.Profiles, _ = p.stringList(v.value, "profiles", nil)
	}
	r.Approvers = p.requiredUsers(n, f, "approvers", "approver", fmt.Sprintf("approval rule %d", index+1),
		"list who may approve (names or arn: patterns); a rule nobody can satisfy would block every request")
	if v, ok := f["auto_approve"]; ok {
		r.AutoApprove = p.autoApprove(v.value)
	}
	return r, true
}

func (p *parser) autoApprove(n *yaml.Node) *AutoApprove {
	if isNull(n) {
		p.fail(n, "auto_approve is empty: remove it, or give users and max_duration")
		return nil
	}
	if !p.mapping(n, "auto_approve", "give users, max_duration and an optional time under it") {
		return nil
	}
	f := p.fields(n, "auto_approve", autoApproveFields, map[string]string{
		"approvers": "auto_approve needs no approver: users lists whose requests are approved on their own",
		"days":      "days belongs under time: (time: {days: [...]})",
		"hours":     "hours belongs under time: (time: {hours: {start: ..., end: ...}})",
	})
	a := &AutoApprove{}
	a.Users = p.requiredUsers(n, f, "users", "user", "auto_approve",
		"list whose requests are approved without a person; to let everyone in, write an allow rule instead")
	if v, ok := f["max_duration"]; !ok {
		p.fail(n, `auto_approve has no max_duration: add the longest request it approves, such as max_duration: 1h`)
	} else if d, ok := p.duration(v.value, "max_duration", MaxApprovalDuration, "the longest an approved request can last"); ok {
		a.MaxDuration = d
	}
	if v, ok := f["time"]; ok {
		a.Time = p.timeWindow(v.value)
	}
	return a
}

func (p *parser) breakGlassRule(index int, n *yaml.Node) (BreakGlassRule, bool) {
	r := BreakGlassRule{Line: n.Line, MaxDuration: MaxBreakGlassDuration, Window: DefaultBreakGlassWindow, ReasonCodes: ReasonCodes()}
	if !p.mapping(n, fmt.Sprintf("break-glass rule %d", index+1), "give each break-glass rule name, users and optional profiles, reason_codes, limits") {
		return r, false
	}
	f := p.fields(n, "a break-glass rule", breakGlassFields, breakGlassHints)
	r.Name = p.entryName(n, f, index, "breakglass", "break-glass rule")
	if v, ok := f["profiles"]; ok {
		r.Profiles, _ = p.stringList(v.value, "profiles", nil)
	}
	r.Users = p.requiredUsers(n, f, "users", "user", fmt.Sprintf("break-glass rule %d", index+1),
		"list who may invoke break-glass (names or arn: patterns)")
	if v, ok := f["reason_codes"]; ok {
		codes, good := p.stringList(v.value, "reason_codes", func(item *yaml.Node, s string) bool {
			if !ValidReasonCode(s) {
				p.fail(item, "unknown reason code %q: use one of %s", s, strings.Join(reasonCodes, ", "))
				return false
			}
			return true
		})
		if good && len(codes) == 0 {
			p.fail(v.value, "reason_codes is an empty list, so nobody could invoke this rule: list codes, or remove it to allow all")
		}
		r.ReasonCodes = nil
		for _, c := range codes {
			if !slices.Contains(r.ReasonCodes, c) {
				r.ReasonCodes = append(r.ReasonCodes, c)
			}
		}
	}
	if v, ok := f["max_duration"]; ok {
		if d, ok := p.duration(v.value, "max_duration", MaxBreakGlassDuration, "the longest any break-glass can last"); ok {
			r.MaxDuration = d
		}
	}
	if v, ok := f["cooldown"]; ok {
		r.Cooldown, _ = p.duration(v.value, "cooldown", 0, "")
	}
	if v, ok := f["window"]; ok {
		if d, ok := p.duration(v.value, "window", 0, ""); ok {
			r.Window = d
		}
	}
	if v, ok := f["max_per_user"]; ok {
		r.MaxPerUser, _ = p.count(v.value, "max_per_user", "the most events one user may invoke in window")
	}
	if v, ok := f["max_per_profile"]; ok {
		r.MaxPerProfile, _ = p.count(v.value, "max_per_profile", "the most events for one profile in window")
	}
	if v, ok := f["escalation_threshold"]; ok {
		r.EscalationThreshold, _ = p.count(v.value, "escalation_threshold", "events by one user in window above which an event is flagged")
	}
	return r, true
}

func (p *parser) notifications(n *yaml.Node) []Webhook {
	if isNull(n) {
		p.fail(n, "notifications is empty: remove it, or list webhooks under it")
		return nil
	}
	if !p.mapping(n, "notifications", "list webhooks under it") {
		return nil
	}
	f := p.fields(n, "notifications", notificationFields, map[string]string{"webhook": `did you mean "webhooks"?`})
	v, ok := f["webhooks"]
	if !ok {
		p.fail(n, "notifications has no webhooks: list them, or remove notifications")
		return nil
	}
	var out []Webhook
	for i, item := range p.section(v.value, "webhooks", "webhooks") {
		if w, ok := p.webhook(i, item); ok {
			out = append(out, w)
		}
	}
	return out
}

func (p *parser) webhook(index int, n *yaml.Node) (Webhook, bool) {
	w := Webhook{Line: n.Line, Timeout: DefaultWebhookTimeout}
	if !p.mapping(n, fmt.Sprintf("webhook %d", index+1), "give each webhook name, url, secret_env and optional events and timeout") {
		return w, false
	}
	f := p.fields(n, "a webhook", webhookFields, webhookHints)
	w.Name = p.entryName(n, f, index, "webhooks", "webhook")

	if v, ok := f["url"]; !ok {
		p.fail(n, "webhook %d has no url: add url: https://...", index+1)
	} else if s, ok := p.scalar(v.value, "url"); ok {
		if msg := checkWebhookURL(s); msg != "" {
			p.fail(v.value, "%s", msg)
		} else {
			w.URL = s
		}
	}

	if v, ok := f["secret_env"]; !ok {
		p.fail(n, "webhook %d has no secret_env: name the environment variable that holds the signing secret", index+1)
	} else if s, ok := p.scalar(v.value, "secret_env"); ok {
		if !validEnvName(s) {
			p.fail(v.value, "secret_env %q is not an environment variable name: use letters, digits and '_', not starting with a digit (the secret itself never goes in the file)", s)
		} else {
			w.SecretEnv = s
		}
	}

	if v, ok := f["events"]; ok {
		events, good := p.stringList(v.value, "events", func(item *yaml.Node, s string) bool {
			if !slices.Contains(webhookEvents, s) {
				p.fail(item, "unknown event %q: use one of %s", s, strings.Join(webhookEvents, ", "))
				return false
			}
			return true
		})
		if good && len(events) == 0 {
			p.fail(v.value, "events is an empty list, so nothing would be sent: list events, or remove it to send all")
		}
		for _, e := range events {
			if !slices.Contains(w.Events, e) {
				w.Events = append(w.Events, e)
			}
		}
	}

	if v, ok := f["timeout"]; ok {
		if d, ok := p.duration(v.value, "timeout", MaxWebhookTimeout, "the longest a delivery attempt may take"); ok {
			w.Timeout = d
		}
	}
	return w, true
}

// checkWebhookURL returns why s is not an acceptable webhook URL, or "".
// Plain http is allowed only to a loopback host (a local relay), since
// anything else would send events in clear text.
func checkWebhookURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Sprintf("url %q is not an http(s) URL: write it in full, such as https://hooks.example.com/sentinel", s)
	}
	if u.User != nil {
		return fmt.Sprintf("url %q carries credentials: remove them; deliveries are signed with the secret named by secret_env", redactUserinfo(u))
	}
	if u.Scheme == "http" && !loopbackHost(u.Hostname()) {
		return fmt.Sprintf("url %q uses plain http to a host that is not loopback: use https (http is only for localhost, 127.0.0.1 or ::1)", s)
	}
	return ""
}

func redactUserinfo(u *url.URL) string {
	c := *u
	c.User = url.User("REDACTED")
	return c.String()
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.IsLoopback()
}

func validEnvName(s string) bool {
	for i, c := range s {
		letter := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}
