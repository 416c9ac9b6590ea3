// Command cgi is a WASI command (CGI/1.1) guest for the host tests; the
// request path picks what it does.
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	switch os.Getenv("PATH_INFO") {
	case "/echo":
		body, _ := io.ReadAll(os.Stdin)
		fmt.Println("Content-Type: text/plain")
		fmt.Println("X-Method: " + os.Getenv("REQUEST_METHOD"))
		fmt.Println("X-Query: " + os.Getenv("QUERY_STRING"))
		fmt.Println("X-Test: " + os.Getenv("HTTP_X_TEST"))
		fmt.Println("X-Length: " + os.Getenv("CONTENT_LENGTH"))
		fmt.Println("X-Configured: " + os.Getenv("CONFIGURED"))
		fmt.Println("X-Proxy: " + os.Getenv("HTTP_PROXY"))
		fmt.Println()
		os.Stdout.Write(body)
	case "/file":
		name := os.Getenv("QUERY_STRING")
		data, err := os.ReadFile(name)
		werr := os.WriteFile(name+".new", []byte("x"), 0o644)
		fmt.Printf("X-Read-Error: %v\nX-Write-Error: %v\n\n%s", err, werr, data)
	case "/env":
		fmt.Printf("X-Script-Name: %s\nX-Path-Info: %s\n\n", os.Getenv("SCRIPT_NAME"), os.Getenv("PATH_INFO"))
	case "/teapot":
		fmt.Print("Status: 418 I'm a teapot\r\nContent-Type: text/plain\r\n\r\nshort and stout")
	case "/redirect":
		fmt.Print("Location: /elsewhere\n\n")
	case "/malformed":
		fmt.Print("this is not a header section")
	case "/fail":
		fmt.Fprintln(os.Stderr, "boom")
		os.Exit(3)
	case "/spin":
		for {
		}
	}
}
