package querywire

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAnswer(t *testing.T) {
	type doc struct {
		XMLName xml.Name `xml:"GetThingResponse"`
		Value   string   `xml:"Value"`
	}
	ok := httptest.NewRecorder()
	Answer(ok, "r1", http.StatusOK, doc{Value: "<x>"}, "ns", "", "")
	if ok.Code != 200 || ok.Header().Get("X-Amzn-Requestid") != "r1" || !strings.Contains(ok.Body.String(), "<Value>&lt;x&gt;</Value>") {
		t.Errorf("answer: %d %v %s", ok.Code, ok.Header(), ok.Body)
	}
	for status, typ := range map[int]string{403: "Sender", 503: "Receiver"} {
		rec := httptest.NewRecorder()
		Answer(rec, "r2", status, nil, "ns", "AccessDenied", "no")
		var got ErrorResponse
		if err := xml.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Code != status ||
			got.Error.Type != typ || got.Error.Code != "AccessDenied" || got.RequestID != "r2" || got.Xmlns != "ns" {
			t.Errorf("error %d: %d %+v %v", status, rec.Code, got, err)
		}
	}
}
