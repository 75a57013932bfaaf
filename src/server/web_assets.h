// The web chat page's files (built from web/ by cmake/web.cmake), compiled into the binary so that
// `whale serve` can answer GET / and the static asset paths without any files on disk.
#pragma once

#include <span>
#include <string_view>

namespace whale {

struct WebAsset {
  std::string_view path;           // URL path: "/", "/index.html", "/assets/index-<hash>.js", ...
  std::string_view content_type;   // for the Content-Type header, e.g. "text/javascript; charset=utf-8"
  std::string_view cache_control;  // for Cache-Control: "no-cache" for the page, "immutable" for hashed assets
  std::string_view body;           // the file's bytes
};

// The asset at `path` (the request path without its query string), or nullptr when there is none.
// "/" and "/index.html" both give the page.
const WebAsset* find_web_asset(std::string_view path);

// Every embedded asset ("/" and "/index.html" appear as two entries).
std::span<const WebAsset> web_assets();

}  // namespace whale
