package wire

import "encoding/json"

// ErrorDocument is the body of every refusal the endpoint answers:
// {"code": "...", "message": "..."} with Content-Type application/json,
// which aws-sdk-go-v2 and botocore show to their users
// (docs/sdk-compatibility.md) and aws-sso-remote reads to say why.
type ErrorDocument struct {
	// Code is stable and machine-readable (docs/troubleshooting.md).
	Code string `json:"code"`
	// Message says what went wrong and how to fix it; never a secret.
	Message string `json:"message"`
}

// AppendErrorDocument appends the JSON of an error document, with a final
// newline, to b.
func AppendErrorDocument(b []byte, code, message string) []byte {
	b = append(b, `{"code":`...)
	b = appendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, message)
	return append(b, "}\n"...)
}

// ParseErrorDocument reads an error document. ok is false when body is not
// one. The fields are as the peer sent them: sanitize them before showing.
func ParseErrorDocument(body []byte) (doc ErrorDocument, ok bool) {
	if len(body) > MaxCredentialsDocument || json.Unmarshal(body, &doc) != nil {
		return ErrorDocument{}, false
	}
	return doc, true
}
