// The two generation endpoints, POST /v1/chat/completions and POST /v1/completions: validate, encode, submit
// to the scheduler, and answer either with one JSON body or as a stream of server-sent events.
#pragma once

#include <string>

namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace whale::server {

class HttpServer;

// key_name: the API key's name for per-key metrics (empty without keys). Throws ApiError for anything the
// client got wrong before generation starts; later failures are reported inside the response.
void handle_chat_completion(HttpServer& server, const httplib::Request& request, httplib::Response& response,
                            const std::string& key_name);
void handle_completion(HttpServer& server, const httplib::Request& request, httplib::Response& response,
                       const std::string& key_name);

}  // namespace whale::server
