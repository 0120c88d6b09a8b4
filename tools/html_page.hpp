#pragma once
/// The index.html pages that show what-if pictures together: a plain,
/// self-contained page (no scripts, no external files) that any browser
/// opens from disk. Names from traces are escaped.

#include <string>

namespace usher::tools {

inline std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

inline std::string html_begin(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
         html_escape(title) +
         "</title>\n<style>\n"
         "body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}\n"
         "img{width:100%;max-width:1000px;border:1px solid #ddd;margin:0.5em 0 1.5em}\n"
         "table{border-collapse:collapse;font-size:0.9em}\n"
         "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\n"
         "th:first-child,td:first-child{text-align:left}\n"
         "</style>\n</head>\n<body>\n<h1>" +
         html_escape(title) + "</h1>\n";
}

inline std::string html_figure(const std::string& src, const std::string& caption) {
  return "<h2>" + html_escape(caption) + "</h2>\n<img src=\"" + html_escape(src) + "\" alt=\"" +
         html_escape(caption) + "\">\n";
}

inline std::string html_end() { return "</body>\n</html>\n"; }

}  // namespace usher::tools
