package corrupt

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// The test binary doubles as sentinel's child: re-executed with
// childModeEnv set, it fetches credentials in a loop and writes one JSON
// line per request to childOutEnv's file, until childStopEnv's file exists.
const (
	childModeEnv = "SENTINEL_CORRUPT_CHILD"
	childOutEnv  = "SENTINEL_CORRUPT_OUT"
	childStopEnv = "SENTINEL_CORRUPT_STOP"
	// childMaxRun bounds the loop when the test never says stop.
	childMaxRun = 90 * time.Second
)

// fetch is one credential request as the child saw it. Only the key id of
// served credentials is written, never the secret or the session token.
type fetch struct {
	Start       int64  `json:"start"` // UnixNano
	End         int64  `json:"end"`
	Status      int    `json:"status"` // 0 when no answer came
	Code        string `json:"code,omitempty"`
	Message     string `json:"message,omitempty"`
	AccessKeyID string `json:"access_key_id,omitempty"`
	HadSecret   bool   `json:"had_secret,omitempty"`
	Err         string `json:"err,omitempty"`
}

// served reports whether the request got credentials.
func (f fetch) served() bool { return f.Status == http.StatusOK || f.AccessKeyID != "" || f.HadSecret }

// runChild fetches from the container endpoint over and over with raw HTTP,
// so the test sees each answer's status code, as an SDK would get it.
func runChild() int {
	uri := os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	token := os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
	if uri == "" || token == "" {
		fmt.Fprintln(os.Stderr, "corrupt child: no container credentials endpoint in the environment")
		return 2
	}
	out, err := os.OpenFile(os.Getenv(childOutEnv), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "corrupt child:", err)
		return 2
	}
	defer out.Close()
	client := &http.Client{Timeout: 5 * time.Second}
	stop := os.Getenv(childStopEnv)
	for deadline := time.Now().Add(childMaxRun); time.Now().Before(deadline); {
		if _, err := os.Stat(stop); err == nil {
			return 0
		}
		line, _ := json.Marshal(fetchOnce(client, uri, token))
		// One write per line, so the test reads a consistent prefix while we run.
		if _, err := out.Write(append(line, '\n')); err != nil {
			fmt.Fprintln(os.Stderr, "corrupt child:", err)
			return 2
		}
		time.Sleep(5 * time.Millisecond) // leave the machine some air
	}
	fmt.Fprintln(os.Stderr, "corrupt child: never told to stop")
	return 3
}

func fetchOnce(client *http.Client, uri, token string) (f fetch) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f.Start = time.Now().UnixNano()
	defer func() { f.End = time.Now().UnixNano() }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		f.Err = err.Error()
		return f
	}
	req.Header.Set("Authorization", token)
	resp, err := client.Do(req)
	if err != nil {
		f.Err = err.Error()
		return f
	}
	defer resp.Body.Close()
	f.Status = resp.StatusCode
	var body struct {
		Code, Message          string
		AccessKeyID            string `json:"AccessKeyId"`
		SecretAccessKey, Token string
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(data, &body)
	}
	if err != nil {
		f.Err = fmt.Sprintf("body: %v", err)
	}
	f.Code, f.Message, f.AccessKeyID = body.Code, body.Message, body.AccessKeyID
	f.HadSecret = body.SecretAccessKey != "" || body.Token != ""
	return f
}
