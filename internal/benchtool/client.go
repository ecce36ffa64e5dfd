package benchtool

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ClientKind picks the HTTP client the load generator uses. Both servers of
// a run are always measured with the same one, so the ratio stays fair.
type ClientKind string

// The client kinds.
const (
	// ClientRaw writes a fixed HTTP/1.1 request on a kept-alive net.Conn and
	// parses just the status and framing: it leaves most of the 2 cores to the
	// server, as wrk does.
	ClientRaw ClientKind = "raw"
	// ClientNetHTTP is net/http's client (what an AWS SDK uses), with
	// MaxIdleConnsPerHost set to the connection count and compression off.
	ClientNetHTTP ClientKind = "nethttp"
)

// requestTimeout bounds one request, so a hung server fails the run instead of hanging it.
const requestTimeout = 10 * time.Second

// Target is one credential endpoint.
type Target struct {
	// URL is AWS_CONTAINER_CREDENTIALS_FULL_URI (http only).
	URL string
	// Token is AWS_CONTAINER_AUTHORIZATION_TOKEN; empty sends no Authorization.
	Token string
}

// Doer sends one GET to its target over its own kept-alive connection.
type Doer interface {
	// Get returns the status code, or an error when no response arrived.
	Get() (status int, err error)
	Close() error
}

// Clients makes Doers for one target.
type Clients struct {
	kind      ClientKind
	target    Target
	addr      string
	rawReq    []byte
	transport *http.Transport
	// newDoer, when set (ClientsOf), makes every Doer.
	newDoer func() Doer
}

// NewClients prepares clients of kind for t; conns sizes net/http's idle pool.
func NewClients(kind ClientKind, t Target, conns int) (*Clients, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		return nil, fmt.Errorf("target URL: %w", err)
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("target URL %q: want http://host:port/path", t.URL)
	}
	c := &Clients{kind: kind, target: t, addr: u.Host}
	switch kind {
	case ClientRaw:
		c.rawReq = buildRequest(u, t.Token)
	case ClientNetHTTP:
		c.transport = &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			DisableCompression:  true,
			IdleConnTimeout:     time.Minute,
		}
	default:
		return nil, fmt.Errorf("unknown client %q (want %s or %s)", kind, ClientRaw, ClientNetHTTP)
	}
	return c, nil
}

// buildRequest is the one request the raw client sends, byte for byte every time.
func buildRequest(u *url.URL, token string) []byte {
	var b bytes.Buffer
	b.WriteString("GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\n")
	if token != "" {
		b.WriteString("Authorization: " + token + "\r\n")
	}
	b.WriteString("User-Agent: sentinel-bench\r\nAccept: */*\r\n\r\n")
	return b.Bytes()
}

// New returns a Doer with its own connection (dialled on first use).
func (c *Clients) New() Doer {
	if c.newDoer != nil {
		return c.newDoer()
	}
	if c.kind == ClientRaw {
		return &rawConn{addr: c.addr, req: c.rawReq}
	}
	req, _ := http.NewRequest(http.MethodGet, c.target.URL, nil) // URL parsed in NewClients
	if c.target.Token != "" {
		req.Header.Set("Authorization", c.target.Token)
	}
	return &netHTTPDoer{client: &http.Client{Transport: c.transport, Timeout: requestTimeout}, req: req}
}

// Close drops idle net/http connections; raw Doers close their own.
func (c *Clients) Close() {
	if c.transport != nil {
		c.transport.CloseIdleConnections()
	}
}

type netHTTPDoer struct {
	client *http.Client
	req    *http.Request
}

func (d *netHTTPDoer) Get() (int, error) {
	resp, err := d.client.Do(d.req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}

func (d *netHTTPDoer) Close() error { return nil }

// rawConn is a minimal HTTP/1.1 client: one fixed request, and a response
// parser that understands Content-Length, chunked bodies and Connection: close.
type rawConn struct {
	addr string
	req  []byte
	conn net.Conn
	br   *bufio.Reader
}

func (c *rawConn) Get() (int, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, requestTimeout)
		if err != nil {
			return 0, err
		}
		c.conn = conn
		if c.br == nil {
			c.br = bufio.NewReaderSize(conn, 4096)
		} else {
			c.br.Reset(conn)
		}
	}
	_ = c.conn.SetDeadline(time.Now().Add(requestTimeout))
	if _, err := c.conn.Write(c.req); err != nil {
		c.drop()
		return 0, err
	}
	status, keep, err := readResponse(c.br)
	if err != nil {
		c.drop()
		return 0, err
	}
	if !keep {
		c.drop()
	}
	return status, nil
}

func (c *rawConn) drop() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}

func (c *rawConn) Close() error {
	c.drop()
	return nil
}

var errMalformed = errors.New("malformed HTTP response")

// readResponse reads one response and discards its body. keep is false when
// the connection cannot carry another request.
func readResponse(br *bufio.Reader) (status int, keep bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, false, fmt.Errorf("%w: status line %q", errMalformed, line)
	}
	keep = line[7] == '1'
	contentLength, chunked := int64(-1), false
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		if len(line) <= 2 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, fmt.Errorf("%w: header %q", errMalformed, line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			contentLength, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || contentLength < 0 {
				return 0, false, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(value), []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			}
		}
	}
	switch {
	case status == http.StatusNoContent || status == http.StatusNotModified || (status >= 100 && status < 200):
	case chunked:
		err = discardChunked(br)
	case contentLength >= 0:
		_, err = br.Discard(int(contentLength))
	default:
		// No framing: the body runs to the end of the connection.
		_, err = io.Copy(io.Discard, br)
		keep = false
	}
	if err != nil {
		return 0, false, err
	}
	return status, keep, nil
}

func discardChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		sizeText, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		size, err := strconv.ParseInt(string(sizeText), 16, 64)
		if err != nil || size < 0 {
			return fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if size == 0 {
			break
		}
		if _, err := br.Discard(int(size) + 2); err != nil {
			return err
		}
	}
	for { // trailers, up to the blank line
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			return nil
		}
	}
}
