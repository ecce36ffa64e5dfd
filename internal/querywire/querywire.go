// Package querywire writes the answers of AWS's Query protocol (STS, IAM)
// for the local stand-ins: an XML document, or an ErrorResponse with the
// type (Sender, Receiver), code and message AWS sends.
package querywire

import (
	"encoding/xml"
	"net/http"
)

// Answer writes the request id header, the status and v (a response
// document) or, when status is not 200, the ErrorResponse of code and
// message in namespace xmlns.
func Answer(w http.ResponseWriter, requestID string, status int, v any, xmlns, code, message string) {
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.Header().Set("Content-Type", "text/xml")
	if status != http.StatusOK {
		w.WriteHeader(status)
		v = ErrorResponse{Xmlns: xmlns, Error: ErrorBody{Type: errorType(status), Code: code, Message: message}, RequestID: requestID}
	}
	out, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(out) //nolint:gosec // text/xml made by xml.Marshal, which escapes every value
}

// errorType is the Error's Type: Receiver for AWS's faults, Sender for the caller's.
func errorType(status int) string {
	if status >= 500 {
		return "Receiver"
	}
	return "Sender"
}

// ErrorBody is an ErrorResponse's Error.
type ErrorBody struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// ErrorResponse is the document of a Query API error, as AWS sends it.
type ErrorResponse struct {
	XMLName   xml.Name  `xml:"ErrorResponse"`
	Xmlns     string    `xml:"xmlns,attr"`
	Error     ErrorBody `xml:"Error"`
	RequestID string    `xml:"RequestId"`
}
