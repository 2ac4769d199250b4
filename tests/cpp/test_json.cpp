// Json: round trips, escapes, number kinds, strict errors with positions; warnings: warn_once.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <thread>

#include <pitfall/pitfall.h>

#include "test_util.h"

using namespace pitfall;
using namespace pitfall::testing;

TEST_CASE("json: scalars keep their kind through dump and parse") {
  CHECK(Json::parse("42").is_int());
  CHECK(Json::parse("42").as_int() == 42);
  CHECK(Json::parse("-9223372036854775808").as_int() == std::numeric_limits<int64_t>::min());
  CHECK(Json::parse("4.0").is_number());
  CHECK_FALSE(Json::parse("4.0").is_int());
  CHECK(Json::parse("1e3").as_double() == 1000.0);
  CHECK(Json(1.0).dump() == "1.0");  // a float stays a float when read back
  CHECK(Json::parse(Json(1.0).dump()) == Json(1.0));
  CHECK(Json(int64_t{7}).dump() == "7");
  CHECK(Json(0.01).dump() == "0.01");
  CHECK(Json(true).dump() == "true");
  CHECK(Json().dump() == "null");
  CHECK(Json::parse(" null ").is_null());
}

TEST_CASE("json: doubles round-trip bit for bit") {
  const double values[] = {0.1, 1.0 / 3.0, 1e-300, 5e-324, 1.7976931348623157e308, -2.5e-7, 123456789.123456789,
                           0.009999999776482582};
  for (double v : values) {
    const Json back = Json::parse(Json(v).dump());
    CHECK(back.as_double() == v);
    CHECK(std::signbit(back.as_double()) == std::signbit(v));
  }
  CHECK(Json::parse(Json(-0.0).dump()).as_double() == 0.0);
  CHECK(std::signbit(Json::parse(Json(-0.0).dump()).as_double()));
}

TEST_CASE("json: NaN and infinity cannot be dumped or parsed") {
  CHECK(message_of([] { Json(std::nan("")).dump(); }).find("NaN is not valid JSON") != std::string::npos);
  CHECK(message_of([] { Json(Json::Array{Json(HUGE_VAL)}).dump(); }).find("Infinity") != std::string::npos);
  CHECK_THROWS_AS(Json::parse("NaN"), ValueError);
  CHECK_THROWS_AS(Json::parse("1e999"), ValueError);
}

TEST_CASE("json: strings escape and unescape, including surrogate pairs") {
  const std::string tricky = std::string("quote\" backslash\\ newline\n tab\t ctrl") + '\x01' + " e\xC3\xA9";
  const std::string dumped = Json(tricky).dump();
  CHECK(dumped == "\"quote\\\" backslash\\\\ newline\\n tab\\t ctrl\\u0001 e\xC3\xA9\"");
  CHECK(Json::parse(dumped).as_string() == tricky);
  CHECK(Json::parse("\"\\u00e9\\u20ac\\/\"").as_string() == "\xC3\xA9\xE2\x82\xAC/");
  // U+1F600 as a UTF-16 surrogate pair -> 4-byte UTF-8
  CHECK(Json::parse("\"\\ud83d\\ude00\"").as_string() == "\xF0\x9F\x98\x80");
  CHECK(message_of([] { Json::parse("\"\\ud83d x\""); }).find("low surrogate") != std::string::npos);
  CHECK(message_of([] { Json::parse("\"\\ude00\""); }).find("high surrogate") != std::string::npos);
  CHECK(message_of([] { Json::parse("\"a\nb\""); }).find("control characters") != std::string::npos);
}

TEST_CASE("json: objects dump with sorted keys, compact and indented") {
  Json config;
  config["units"] = 10;
  config["activation"] = "relu";
  config["shape"] = Json::from_vector(std::vector<int64_t>{-1, 784});
  config["empty"] = Json::object();
  CHECK(config.dump() == R"({"activation":"relu","empty":{},"shape":[-1,784],"units":10})");
  CHECK(config.dump(2) ==
        "{\n  \"activation\": \"relu\",\n  \"empty\": {},\n  \"shape\": [\n    -1,\n    784\n  ],\n  \"units\": 10\n}");
  CHECK(Json::parse(config.dump(2)) == config);
  CHECK(Json::parse(config.dump()) == config);
  CHECK(config.at("shape").as_int_vector() == std::vector<int64_t>{-1, 784});
  CHECK(config.get("missing", Json(3)).as_int() == 3);
  CHECK(config.contains("units"));
  CHECK_FALSE(config.contains("nope"));
}

TEST_CASE("json: parse errors give line, column and what was expected") {
  const std::string bad_comma = "{\n  \"a\": 1\n  \"b\": 2\n}";
  const std::string message = message_of([&] { Json::parse(bad_comma); });
  CHECK(message.find("expected ',' or '}' after an object member at line 3, column 3") != std::string::npos);
  CHECK(message_of([] { Json::parse("[1, 2"); }).find("',' or ']'") != std::string::npos);
  CHECK(message_of([] { Json::parse("[1, 2"); }).find("the end of the input") != std::string::npos);
  CHECK(message_of([] { Json::parse("{\"a\" 1}"); }).find("':' after the object key \"a\"") != std::string::npos);
  CHECK(message_of([] { Json::parse("01"); }).find("leading 0") != std::string::npos);
  CHECK(message_of([] { Json::parse("[1] x"); }).find("end of the input after the top-level value") !=
        std::string::npos);
  CHECK(message_of([] { Json::parse("tru"); }).find("'true'") != std::string::npos);
  CHECK_THROWS_AS(Json::parse(""), ValueError);
}

TEST_CASE("json: typed accessors name the expected and the actual type") {
  const Json text("abc");
  CHECK(message_of([&] { text.as_int(); }).find("expected an int, got string") != std::string::npos);
  CHECK(message_of([&] { Json(2.5).as_int(); }).find("integral float") != std::string::npos);
  CHECK(Json(3.0).as_int() == 3);
  CHECK(Json(int64_t{3}).as_double() == 3.0);
  CHECK(message_of([&] { Json(1).as_bool(); }).find("expected a bool, got int") != std::string::npos);
  Json object = Json::object();
  object["x"] = 1;
  const std::string missing = message_of([&] { object.at("units"); });
  CHECK(missing.find("missing key 'units'") != std::string::npos);
  CHECK(missing.find("'x'") != std::string::npos);
  CHECK(message_of([&] { Json(1).at("k"); }).find("key 'k' in int") != std::string::npos);
  CHECK(message_of([] { Json(Json::Array{Json(1), Json("a")}).as_int_vector(); }).find("element 1") !=
        std::string::npos);
  CHECK_THROWS_AS(text.as_array(), ValueError);
}

TEST_CASE("warnings: warn_once warns once per key until reset, through the handler") {
  std::vector<std::string> seen;
  auto previous = set_warning_handler([&](const std::string& m) { seen.push_back(m); });
  reset_warnings_once();
  warn_once("k1", "first");
  warn_once("k1", "again");
  warn_once("k2", "other");
  warn("plain");
  CHECK(seen == std::vector<std::string>{"first", "other", "plain"});
  reset_warnings_once();
  warn_once("k1", "after reset");
  CHECK(seen.back() == "after reset");
  // Many threads racing on one key: exactly one warning.
  seen.clear();
  reset_warnings_once();
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([] { warn_once("race", "once"); });
  for (auto& t : threads) t.join();
  CHECK(seen.size() == 1);
  set_warning_handler(previous);
  reset_warnings_once();
}
