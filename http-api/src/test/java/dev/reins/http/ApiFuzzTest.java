package dev.reins.http;

import static dev.reins.http.Fuzz.constant;
import static dev.reins.http.Fuzz.element;
import static dev.reins.http.Fuzz.ints;
import static dev.reins.http.Fuzz.show;
import static dev.reins.http.Fuzz.strings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import dev.reins.http.Fuzz.Gen;
import dev.reins.http.FuzzJson.Judged;
import dev.reins.http.FuzzJson.Verdict;
import dev.reins.persistence.Connections;
import dev.reins.protocol.json.ReinsJson;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.math.BigInteger;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.slf4j.LoggerFactory;

/**
 * Random requests against one real server: bodies, paths, query strings and headers of every
 * shape a client (or an attacker) can send. Whatever comes in, the server never answers 5xx
 * (nor logs an error), answers a client mistake with problem+json, and a request it rejects
 * changes nothing: the known runs keep their state and version, no run and no token appears.
 *
 * <p>Each property draws its requests from one seed, logged first and named on failure; replay
 * with {@code -Dreins.fuzz.seed=<seed>}, ask for more tries with {@code -Dreins.fuzz.tries=10}
 * (a multiplier).
 *
 * <p>Most requests go through the JDK client. It refuses to send some shapes: the restricted
 * headers ({@code Host}, {@code Content-Length}, {@code Connection}, {@code Expect}, {@code
 * Upgrade}), {@code CONNECT} and methods that are not tokens, header names that are not tokens,
 * header values with control characters (but tab) or characters beyond ISO-8859-1, and targets
 * that {@link URI} does not parse (spaces, stray {@code %}, {@code \}) or would send re-encoded
 * (raw non-ASCII) or cut (a fragment). Those, and every body framing but the client's own, go
 * over a raw socket ({@link RawHttp}) byte for byte instead.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ApiFuzzTest {
  private static final Duration PATIENCE = Duration.ofSeconds(30);
  private static final int MAX_BODY = 1024 * 1024;
  private static final String STALE = "{\"attempt\":99}";
  private static final String SUBMIT = "{\"executor\":{\"command\":[\"true\"]}}";

  private TestServer server;
  /** Attempt 1 runs {@code sleep 600} for the whole class (after printing its run token). */
  private String running;
  /** Succeeded (after printing its run token). */
  private String finished;
  /** An API token of tenant {@code other} with every runs scope. */
  private String otherToken;
  /** The per-run token of {@link #running}'s live attempt. */
  private String runToken;
  /** The per-run token of {@link #finished}'s attempt, which is over. */
  private String endedRunToken;
  private HttpClient http;
  private Connections db;
  private Snapshot baseline;
  private final ListAppender<ILoggingEvent> logged = new ListAppender<>();

  @BeforeAll
  void start() throws Exception {
    // no entity leaves memory during the class: leaving writes to the journal too, at a time of its own
    server = TestServer.start(Map.of("reins.runs.passivate-after", "1h"));
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    db = Connections.pooled(server.server.system());
    running = server.submit(argv("echo \"$REINS_TOKEN\"; exec sleep 600"), null);
    finished = server.submit(argv("echo \"$REINS_TOKEN\""), null);
    server.awaitState(running, "running", PATIENCE);
    server.awaitState(finished, "succeeded", PATIENCE);
    runToken = TestServer.await(PATIENCE, () -> tokenInLogs(running));
    endedRunToken = TestServer.await(PATIENCE, () -> tokenInLogs(finished));
    HttpResponse<String> created = server.post("/v1/admin/tokens",
        "{\"name\":\"x\",\"tenant\":\"other\",\"scopes\":[\"runs:read\",\"runs:submit\",\"runs:cancel\",\"runs:reset\"]}");
    assertEquals(201, created.statusCode(), created.body());
    otherToken = TestServer.json(created).get("token").asText();
    logged.start();
    root().addAppender(logged);
  }

  @AfterAll
  void stop() throws Exception {
    root().detachAppender(logged);
    server.closeAfterCancelling(running);
  }

  @BeforeEach
  void takeBaseline() throws Exception {
    baseline = snapshot();
    assertEquals("running", baseline.running().state());
    assertEquals("succeeded", baseline.finished().state());
  }

  /** The known runs are where every property left them, and the server still serves. */
  @AfterEach
  void runsAreWhereTheyWere() throws Exception {
    expectUnchanged();
    assertEquals(200, server.get("/v1/health/ready").statusCode());
  }

  // ---- 1. bodies --------------------------------------------------------------------------------

  enum BodyTarget { SUBMIT, CANCEL, RESET }

  /** How the server should read a Content-Type: as JSON, as no body, as not JSON, or it is not ours to say. */
  enum CtKind { JSON, NONE, OCTET, OTHER, UNKNOWN }

  record Ct(String value, CtKind kind) {
    @Override
    public String toString() {
      return value == null ? "(none)" : show(value);
    }
  }

  record BodyCase(BodyTarget endpoint, Ct contentType, byte[] body, boolean preferRunning) {
    @Override
    public String toString() {
      return endpoint + " content-type " + contentType + " body (" + body.length + " bytes) "
          + show(new String(body, StandardCharsets.UTF_8));
    }
  }

  static Gen<Ct> contentTypes() {
    return Fuzz.<Ct>weighted()
        .or(12, constant(new Ct("application/json", CtKind.JSON)))
        .or(3, element("application/json; charset=utf-8", "application/json;charset=UTF-8", "application/problem+json",
            "application/merge-patch+json", "application/vnd.reins.run+json").map(v -> new Ct(v, CtKind.JSON)))
        .or(3, constant(new Ct(null, CtKind.NONE)))
        .or(1, constant(new Ct("application/octet-stream", CtKind.OCTET)))
        .or(4, element("text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x", "text/json", "application/jsonx", "application/xml", "text/html",
            "application/javascript", "image/png").map(v -> new Ct(v, CtKind.OTHER)))
        .or(3, element("APPLICATION/JSON", "application/json; charset=iso-8859-1", "application/json; charset=utf-16",
            "application/json; charset=bogus", "application/json; foo=bar", "application/json;", "application/json, text/plain",
            "*/*", "application/*", "", ";", "application/", "/json", "json", "application/json; charset=\"utf-8\"",
            "application/json\u00e9", "application/json; charset=utf-8; charset=latin1").map(v -> new Ct(v, CtKind.UNKNOWN)))
        .or(1, strings(Fuzz.anyCodePoint(), 0, 30).map(v -> new Ct(v, CtKind.UNKNOWN)));
  }

  static Gen<byte[]> bodyBytes(BodyTarget endpoint) {
    Gen<String> text = FuzzJson.bodyText(switch (endpoint) {
      case SUBMIT -> FuzzJson.validSubmission();
      case CANCEL -> FuzzJson.validCancel();
      case RESET -> FuzzJson.validReset();
    });
    return Fuzz.<byte[]>weighted()
        .or(85, text.map(s -> s.getBytes(StandardCharsets.UTF_8)))
        .or(8, Fuzz.bytes(0, 300))
        .or(6, text.flatMap(s -> r -> withBadUtf8(s.getBytes(StandardCharsets.UTF_8), r)))
        .or(1, text.map(s -> huge(s)));
  }

  /** Invalid UTF-8 (a stray byte, an overlong NUL, an encoded surrogate, a cut sequence) somewhere in {@code b}. */
  private static byte[] withBadUtf8(byte[] b, SplittableRandom r) {
    byte[][] bad = {{(byte) 0xff}, {(byte) 0xc0, (byte) 0x80}, {(byte) 0xed, (byte) 0xa0, (byte) 0x80}, {(byte) 0xe2, (byte) 0x82}};
    byte[] insert = bad[r.nextInt(bad.length)];
    int at = r.nextInt(b.length + 1);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(b, 0, at);
    out.writeBytes(insert);
    out.write(b, at, b.length - at);
    return out.toByteArray();
  }

  /** Over the 1 MiB limit: a JSON string padded past it (still a valid-looking body). */
  private static byte[] huge(String s) {
    String padded = "{\"labels\":{\"pad\":\"" + "x".repeat(MAX_BODY) + "\"}," + (s.startsWith("{") ? s.substring(1) : "}");
    return padded.getBytes(StandardCharsets.UTF_8);
  }

  static Gen<BodyCase> bodyCases() {
    return r -> {
      BodyTarget endpoint = element(BodyTarget.SUBMIT, BodyTarget.SUBMIT, BodyTarget.CANCEL, BodyTarget.RESET).next(r);
      return new BodyCase(endpoint, contentTypes().next(r), bodyBytes(endpoint).next(r), r.nextBoolean());
    };
  }

  @Test
  void arbitraryBodiesNeverFailTheServerAndRejectedOnesChangeNothing() {
    Fuzz.forAll("bodies", 200, bodyCases(), c -> {
      String text = new String(c.body(), StandardCharsets.UTF_8);
      boolean empty = c.body().length == 0;
      // what the body gate makes of the content type, then what the body itself is worth
      Judged judged = switch (c.contentType().kind()) {
        case JSON -> judge(c.endpoint(), text);
        case NONE, OCTET -> empty ? judge(c.endpoint(), "") : Judged.INVALID;
        case OTHER -> Judged.INVALID;
        case UNKNOWN -> Judged.UNKNOWN;
      };
      boolean unsupported = switch (c.contentType().kind()) {
        case OTHER -> true;
        case NONE, OCTET -> !empty;
        default -> false;
      };
      Verdict v = judged.verdict();
      Integer attempt = judged.attempt();
      boolean current = attempt == null || attempt == 1; // both runs are on attempt 1
      String path = switch (c.endpoint()) {
        case SUBMIT -> "/v1/runs";
        // a cancel that may be valid for the current attempt goes to the finished run (no change there)
        case CANCEL -> "/v1/runs/" + (v == Verdict.UNKNOWN || (v == Verdict.VALID && current) || !c.preferRunning()
            ? finished : running) + "/cancel";
        // a reset that may be valid goes to the running run, which refuses every reset
        case RESET -> "/v1/runs/" + (v == Verdict.UNKNOWN || (v == Verdict.VALID && current) || c.preferRunning()
            ? running : finished) + "/reset";
      };
      List<Map.Entry<String, String>> headers = new ArrayList<>(admin());
      if (c.contentType().value() != null) {
        headers.add(Map.entry("Content-Type", c.contentType().value()));
      }
      Answer a = send(new Req("POST", path, headers, c.body(), Framing.JDK));
      Fuzz.label(c.endpoint() + " " + v + " " + a.status());
      assertServed(a);
      boolean tooLarge = c.body().length > MAX_BODY;
      if (tooLarge && c.contentType().kind() != CtKind.UNKNOWN) {
        assertProblem(a, unsupported ? Set.of(413, 415) : Set.of(413), null);
      } else if (v == Verdict.INVALID) {
        assertProblem(a, Set.of(unsupported ? 415 : 400), unsupported ? "unsupported-media-type" : null);
      } else if (v == Verdict.VALID) {
        switch (c.endpoint()) {
          case SUBMIT -> {
            boolean keyed = text.contains("idempotencyKey");
            assertTrue(a.status() == 202 || a.status() == 429 || (keyed && (a.status() == 200 || a.status() == 409)),
                "a valid submission is accepted: " + a);
          }
          case CANCEL -> {
            if (current) {
              assertEquals(200, a.status(), "a valid cancel of a finished run: " + a);
              assertEquals("already_terminal", a.header("Reins-Outcome").orElse(null), a.toString());
            } else {
              assertProblem(a, Set.of(409), "stale-attempt");
            }
          }
          case RESET -> assertProblem(a, Set.of(409), current ? "invalid-state" : "stale-attempt");
        }
      }
      if (c.endpoint() == BodyTarget.SUBMIT && a.status() / 100 == 2) {
        assertTrue(v != Verdict.INVALID, "accepted an invalid body: " + a);
        rebaseline();
      } else {
        expectUnchanged();
      }
    });
  }

  private static Judged judge(BodyTarget endpoint, String text) {
    return switch (endpoint) {
      case SUBMIT -> new Judged(FuzzJson.submit(text), null);
      case CANCEL -> FuzzJson.cancel(text);
      case RESET -> FuzzJson.reset(text);
    };
  }

  // ---- 2. paths and methods -----------------------------------------------------------------------

  record PathCase(String method, String target, boolean asAdmin) {
    @Override
    public String toString() {
      return method + " " + show(target) + (asAdmin ? " (admin)" : " (other tenant)");
    }
  }

  private Gen<String> segments() {
    String longId = "a".repeat(20_000);
    return Fuzz.<String>weighted()
        .or(6, element(running, finished, "runs", "cancel", "reset", "events", "logs", "admin", "tokens", "health", "live",
            "ready", "v1"))
        .or(2, element(running.toUpperCase(Locale.ROOT), running + "x", running.substring(1), " " + running,
            UUID.randomUUID().toString(), "not-a-uuid", longId, running + "%2Fcancel", running + "%2fcancel", running + ";x=1",
            running + "/", "%" + running))
        .or(4, element(".", "..", "%2e", "%2E%2E", ".%2e", "%2f", "%2F", "%5c", "\\", "%00", "%", "%z", "%zz", "%e2%82%ac",
            "%ed%a0%80", "%ff", "%c0%af", "\u00fc", "\u20ac", "\ud83d\ude00", "", " ", "%20", "+", ";", ";x=1", ":", "@", "~",
            "*", "'", "\"", "<", ">", "{}", "|", "^", "`", "\u0000", "\t", "\r\n", "\u2028", "#", "?"))
        .or(2, strings(Fuzz.asciiPrintable(), 1, 20))
        .or(1, strings(Fuzz.anyCodePoint(), 1, 20));
  }

  private Gen<PathCase> pathCases() {
    Gen<String> methods = Fuzz.<String>weighted()
        .or(8, element("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"))
        .or(2, element("TRACE", "CONNECT", "get", "Post", "FOO", "PROPFIND", "M-SEARCH", "BREW", "GET2", "-", "X".repeat(100)));
    Gen<List<String>> prefixes = Fuzz.<List<String>>weighted()
        .or(10, element(List.of(), List.of("v1"), List.of("v1", "runs"), List.of("v1", "runs", running),
            List.of("v1", "runs", finished), List.of("v1", "admin", "tokens"), List.of("v1", "health"), List.of("v2"),
            List.of("V1"), List.of("v1", ""), List.of("", "v1", "runs")))
        // a well-formed id of no run: must be answered without starting (and remembering) an entity
        .or(2, r -> List.of("v1", "runs", new UUID(r.nextLong(), r.nextLong()).toString()));
    return r -> {
      List<String> parts = new ArrayList<>(prefixes.next(r));
      parts.addAll(Fuzz.lists(segments(), 0, 4).next(r));
      if (r.nextInt(6) == 0 && !parts.isEmpty()) {
        parts.remove(r.nextInt(parts.size()));
      }
      String target = (r.nextInt(20) == 0 ? "" : "/") + String.join("/", parts) + (r.nextInt(5) == 0 ? "/" : "");
      if (r.nextInt(10) == 0) {
        target = element("//", "/./", "/../", "///v1//runs").next(r) + target;
      }
      if (r.nextInt(8) == 0) {
        target += element("?x=1", "?", "#frag", "?wait=1s", "?%", "?a=%zz").next(r);
      }
      return new PathCase(methods.next(r), target, r.nextInt(5) != 0);
    };
  }

  @Test
  void arbitraryPathsAndMethodsNeverFailTheServerNorChangeAnything() {
    Fuzz.forAll("paths", 250, pathCases(), c -> {
      List<Map.Entry<String, String>> headers = new ArrayList<>(c.asAdmin() ? admin() : bearer(otherToken));
      byte[] body = null;
      if (!Set.of("GET", "HEAD", "OPTIONS", "TRACE", "CONNECT").contains(c.method())) {
        // never a command the run could take: a stale attempt, or not a body of that endpoint at all
        body = STALE.getBytes(StandardCharsets.UTF_8);
        headers.add(Map.entry("Content-Type", "application/json"));
      }
      Answer a = send(new Req(c.method(), c.target(), headers, body, Framing.JDK));
      Fuzz.label(a.status() + " " + a.via());
      assertServed(a);
      expectUnchanged();
    });
  }

  // ---- 3. query strings -------------------------------------------------------------------------

  enum QueryTarget { CANCEL_FINISHED, CANCEL_RUNNING, LOGS_FINISHED, LOGS_RUNNING, GET_RUNNING, EVENTS_FINISHED }

  record QueryCase(QueryTarget target, String query) {
    @Override
    public String toString() {
      return target + " ?" + show(query);
    }
  }

  static Gen<String> queryValues() {
    return Fuzz.<String>weighted()
        .or(6, element("0", "1", "2", "-1", "+1", "-0", "00", "01", "65536", "10485760", "10485761", "2147483647",
            "2147483648", "-2147483648", "99999999999999999999", "1e3", "0x10", " 5 ", "5s", "500ms", "60s", "61s", "60000ms",
            "60001ms", "60", "61", "0s", "0ms", "5m", "1h", "s", "ms", "", " ", "5 s", "5sec", "5S", "5MS", "1.5", "1,000",
            "1_000", "\u0663", "\uff15", "\u0665s", "null", "true", "[]", "{}"))
        .or(2, ints(-100, 100_000).map(String::valueOf))
        .or(2, strings(Fuzz.asciiPrintable(), 0, 12))
        .or(1, strings(Fuzz.anyCodePoint(), 0, 12))
        .or(1, strings(ints('0', '9'), 1, 400));
  }

  /** {@code s} as it may appear in a query: as is, percent-encoded, spaces as {@code +}, or with broken escapes. */
  static Gen<String> encoded(Gen<String> s) {
    return s.flatMap(v -> Fuzz.<String>weighted()
        .or(6, constant(v))
        .or(3, constant(URLEncoder.encode(v, StandardCharsets.UTF_8)))
        .or(1, constant(v.replace(" ", "+")))
        .or(2, constant(percentEncodeEveryByte(v)))
        .or(1, element(v + "%", v + "%zz", "%ff" + v)));
  }

  /** Percent-encoding as a careless client does it: every byte, letters too. */
  static String percentEncodeEveryByte(String s) {
    StringBuilder sb = new StringBuilder();
    for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
      sb.append('%').append(String.format("%02X", b & 0xff));
    }
    return sb.toString();
  }

  static Gen<QueryCase> queryCases() {
    Gen<String> names = Fuzz.<String>weighted()
        .or(8, element("wait", "attempt", "tail"))
        .or(2, element("WAIT", "Tail", "attempt[]", "wait%00", "w%61it", "tail ", "", "x", "attempt.x"))
        .or(1, strings(Fuzz.anyCodePoint(), 0, 8));
    Gen<String> param = r -> {
      String name = encoded(names).next(r);
      return switch (r.nextInt(10)) {
        case 0 -> name;
        case 1 -> "=" + encoded(queryValues()).next(r);
        default -> name + "=" + encoded(queryValues()).next(r);
      };
    };
    return r -> {
      List<String> params = Fuzz.lists(param, 0, 4).next(r);
      String sep = element("&", "&", "&", ";", "&&").next(r);
      String query = (r.nextInt(15) == 0 ? "&" : "") + String.join(sep, params)
          + (r.nextInt(20) == 0 ? element("#frag", "&", "=", "==", "%").next(r) : "");
      return new QueryCase(element(QueryTarget.values()).next(r), query);
    };
  }

  @Test
  void arbitraryQueryStringsNeverFailTheServerNorChangeAnything() {
    Fuzz.forAll("queries", 200, queryCases(), c -> {
      String path = switch (c.target()) {
        case CANCEL_FINISHED -> "/v1/runs/" + finished + "/cancel";
        case CANCEL_RUNNING -> "/v1/runs/" + running + "/cancel";
        case LOGS_FINISHED -> "/v1/runs/" + finished + "/logs";
        case LOGS_RUNNING -> "/v1/runs/" + running + "/logs";
        case GET_RUNNING -> "/v1/runs/" + running;
        case EVENTS_FINISHED -> "/v1/runs/" + finished + "/events";
      };
      boolean post = c.target() == QueryTarget.CANCEL_FINISHED || c.target() == QueryTarget.CANCEL_RUNNING;
      List<Map.Entry<String, String>> headers = new ArrayList<>(admin());
      byte[] body = null;
      if (c.target() == QueryTarget.CANCEL_RUNNING) {
        body = STALE.getBytes(StandardCharsets.UTF_8); // whatever the query says, this cancel cannot take
        headers.add(Map.entry("Content-Type", "application/json"));
      }
      Answer a = send(new Req(post ? "POST" : "GET", path + "?" + c.query(), headers, body, Framing.JDK));
      assertServed(a);
      Optional<Map<String, String>> params = QueryOracle.decode(c.query());
      Fuzz.label((params.isPresent() ? "judged " : "unjudged ") + a.status());
      if (params.isPresent()) {
        Map<String, String> p = params.get();
        switch (c.target()) {
          case CANCEL_FINISHED -> expectWait(a, p, 200, null);
          case CANCEL_RUNNING -> expectWait(a, p, 409, "stale-attempt");
          case LOGS_FINISHED, LOGS_RUNNING -> {
            Optional<String> bad = QueryOracle.badLogsParameter(p);
            if (bad.isPresent()) {
              assertProblem(a, Set.of(400), "invalid-field");
              assertEquals(bad.get(), a.json().path("field").asText(), "the parameter named: " + a);
            } else {
              assertEquals(200, a.status(), "valid logs query: " + a);
            }
          }
          default -> assertEquals(200, a.status(), "a query the endpoint does not read: " + a);
        }
      }
      expectUnchanged();
    });
  }

  private static void expectWait(Answer a, Map<String, String> p, int okStatus, String okKind) throws IOException {
    String wait = p.get("wait");
    if (wait != null && !QueryOracle.waitValid(wait)) {
      assertProblem(a, Set.of(400), "invalid-field");
      assertEquals("wait", a.json().path("field").asText(), a.toString());
    } else if (okKind != null) {
      assertProblem(a, Set.of(okStatus), okKind);
    } else {
      assertEquals(okStatus, a.status(), a.toString());
    }
  }

  // ---- 4. headers -------------------------------------------------------------------------------

  /** Who a request speaks as; {@code BAD} is a token that names nobody, {@code UNSURE} two Authorization headers. */
  enum Who { NONE, BAD, ADMIN, OTHER, RUN, ENDED_RUN, UNSURE }

  enum HeaderTarget { GET_RUNNING, EVENTS_FINISHED, LOGS_RUNNING, SUBMIT, CANCEL_STALE, RESET_STALE, CREATE_TOKEN }

  record Auth(Who who, List<String> values) {}

  record HeaderCase(HeaderTarget target, Auth auth, Ct contentType, String host, boolean hostWellFormed, String origin,
      List<Map.Entry<String, String>> extra, Framing framing) {
    @Override
    public String toString() {
      return target + " as " + auth.who() + " " + auth.values().stream().map(Fuzz::show).toList() + " content-type "
          + contentType + " host " + (host == null ? "(default)" : show(host)) + " origin " + (origin == null ? "(none)" : show(origin))
          + " extra " + extra.stream().map(e -> e.getKey() + ": " + show(e.getValue())).toList() + " framing " + framing;
    }
  }

  private Gen<Auth> auths() {
    String admin = TestServer.ADMIN_TOKEN;
    Gen<String> garbageTokens = Fuzz.<String>weighted()
        .or(3, strings(Fuzz.asciiPrintable(), 1, 60))
        .or(1, strings(Fuzz.anyCodePoint(), 1, 30))
        .or(2, strings(Fuzz.alphanumeric(), 1, 40).map(s -> "reins_" + s))
        .or(3, r -> forgedJwt(r))
        .or(1, constant("x".repeat(9000)));
    Gen<List<String>> bad = Fuzz.<List<String>>weighted()
        .or(4, garbageTokens.map(t -> List.of("Bearer " + t)))
        .or(1, element(
            "Basic " + Base64.getEncoder().encodeToString(("admin:" + admin).getBytes(StandardCharsets.UTF_8)),
            "Token " + admin, admin, "Bearer", "Bearer ", "Bearer " + admin.substring(1),
            "Bearer " + admin + "x", "Bearer " + admin.toUpperCase(Locale.ROOT), "Bearer " + otherToken.toUpperCase(Locale.ROOT),
            "Bearer " + otherToken.substring(0, otherToken.length() - 1), "Bearer " + admin + "," + otherToken,
            "Bearer \"" + admin + "\"", "Negotiate " + admin, "Bearer " + Base64.getEncoder().encodeToString(admin.getBytes(StandardCharsets.UTF_8)),
            "Bearer " + runToken + "x", "Bearer " + runToken.substring(0, runToken.lastIndexOf('.')), "",
            "Bearer " + admin + "\u0000", "Bearer " + admin + "\r\nX-Injected: 1", "Bearer\u00a0" + admin).map(List::of));
    return Fuzz.<Auth>weighted()
        .or(3, constant(new Auth(Who.NONE, List.of())))
        .or(8, bad.map(v -> new Auth(Who.BAD, v)))
        // Pekko reads the scheme case-insensitively, with optional whitespace after it (even none)
        .or(4, element("Bearer ", "bearer ", "BEARER ", "Bearer   ", "bEaReR ", "Bearer", "Bearer\t")
            .map(s -> new Auth(Who.ADMIN, List.of(s + admin))))
        .or(3, constant(new Auth(Who.OTHER, List.of("Bearer " + otherToken))))
        .or(2, constant(new Auth(Who.RUN, List.of("Bearer " + runToken))))
        .or(2, constant(new Auth(Who.ENDED_RUN, List.of("Bearer " + endedRunToken))))
        .or(1, r -> new Auth(Who.UNSURE, List.of("Bearer " + element(admin, otherToken, "nope").next(r),
            "Bearer " + element(admin, otherToken, "nope").next(r))));
  }

  /** Something that looks like a run token: forged from the real one or made up. */
  private String forgedJwt(SplittableRandom r) {
    Base64.Encoder b64 = Base64.getUrlEncoder().withoutPadding();
    String[] parts = runToken.split("\\.");
    String payload = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8);
    return switch (r.nextInt(7)) {
      case 0 -> b64.encodeToString("{\"alg\":\"none\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8)) + "." + parts[1] + ".";
      case 1 -> parts[0] + "." + b64.encodeToString(payload.replace(running, finished).getBytes(StandardCharsets.UTF_8)) + "." + parts[2];
      case 2 -> parts[0] + "." + b64.encodeToString(payload.replace("\"default\"", "\"other\"").getBytes(StandardCharsets.UTF_8))
          + "." + parts[2];
      case 3 -> parts[0] + "." + parts[1] + "." + flip(parts[2], r);
      case 4 -> b64.encodeToString("{\"alg\":\"HS512\",\"typ\":\"JWT\"}".getBytes(StandardCharsets.UTF_8)) + "." + parts[1] + "." + parts[2];
      case 5 -> endedRunToken.substring(0, endedRunToken.lastIndexOf('.') + 1) + parts[2];
      default -> "eyJ" + strings(Fuzz.alphanumeric(), 5, 40).next(r) + "." + strings(Fuzz.alphanumeric(), 0, 80).next(r) + "."
          + strings(Fuzz.alphanumeric(), 0, 43).next(r);
    };
  }

  private static String flip(String s, SplittableRandom r) {
    int i = r.nextInt(s.length());
    char c = s.charAt(i) == 'A' ? 'B' : 'A';
    return s.substring(0, i) + c + s.substring(i + 1);
  }

  private Gen<HeaderCase> headerCases() {
    String hostPort = "127.0.0.1:" + server.port();
    Gen<Ct> cts = Fuzz.<Ct>weighted()
        .or(8, constant(new Ct("application/json", CtKind.JSON)))
        .or(2, element("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x")
            .map(v -> new Ct(v, CtKind.OTHER)))
        .or(1, constant(new Ct(null, CtKind.NONE)))
        .or(1, element("", "garbage/", ";;", "application/json\u0000").map(v -> new Ct(v, CtKind.UNKNOWN)));
    Gen<Map.Entry<String, Boolean>> hosts = Fuzz.<Map.Entry<String, Boolean>>weighted()
        .or(10, constant(Map.entry("", true))) // the client's own
        .or(3, element("localhost", "localhost:" + server.port(), "evil.example", "evil.example:80", "[::1]:" + server.port(),
            "LOCALHOST").map(h -> Map.entry(h, true)))
        .or(3, element("(none)", "", " ", "a b", "x:y:z", "127.0.0.1:99999", "user@host", "h\u00f6st", "%41", "-", "[::1",
            "x".repeat(300), "127.0.0.1:" + server.port() + "\r\nHost: evil.example").map(h -> Map.entry(h, false)));
    Gen<String> origins = Fuzz.<String>weighted()
        .or(6, constant(null))
        .or(2, element("https://evil.example", "null", "", "http://" + hostPort, "*", "http://127.0.0.1:1", "file://",
            "https://\u00e9vil.example"))
        .or(1, strings(Fuzz.anyCodePoint(), 0, 20));
    Gen<Map.Entry<String, String>> extras = element(
        Map.entry("X-Forwarded-For", "10.0.0.1"), Map.entry("X-Forwarded-Host", "evil.example"),
        Map.entry("Forwarded", "for=evil;host=evil.example"), Map.entry("X-Reins-Tenant", "other"),
        Map.entry("Cookie", "token=" + TestServer.ADMIN_TOKEN), Map.entry("X-Api-Key", TestServer.ADMIN_TOKEN),
        Map.entry("If-None-Match", "*"), Map.entry("Accept", "text/html"), Map.entry("Accept", "application/xml;q=0"),
        Map.entry("Accept-Encoding", "gzip, br"), Map.entry("Content-Encoding", "gzip"), Map.entry("Expect", "100-continue"),
        Map.entry("Transfer-Encoding", "gzip"), Map.entry("Connection", "keep-alive, Upgrade"), Map.entry("Upgrade", "h2c"),
        Map.entry("Last-Event-ID", "-1"), Map.entry("Access-Control-Request-Method", "DELETE"), Map.entry("X-Long", "v".repeat(9000)),
        Map.entry("X-\u00fc", "1"), Map.entry("X-Empty", ""), Map.entry("X-Fold", "a\r\n b"));
    return r -> {
      Map.Entry<String, Boolean> host = hosts.next(r);
      Framing framing = r.nextInt(4) == 0 ? element(Framing.values()).next(r) : Framing.JDK;
      return new HeaderCase(element(HeaderTarget.values()).next(r), auths().next(r), cts.next(r),
          host.getKey().isEmpty() && host.getValue() ? null : host.getKey(), host.getValue(), origins.next(r),
          r.nextInt(3) == 0 ? Fuzz.lists(extras, 1, 2).next(r) : List.of(), framing);
    };
  }

  @Test
  void arbitraryHeadersNeverFailTheServerAndBadTokensAreA401() {
    Fuzz.forAll("headers", 250, headerCases(), c -> {
      String path = switch (c.target()) {
        case GET_RUNNING -> "/v1/runs/" + running;
        case EVENTS_FINISHED -> "/v1/runs/" + finished + "/events";
        case LOGS_RUNNING -> "/v1/runs/" + running + "/logs";
        case SUBMIT -> "/v1/runs";
        // without framing the server sees no body, and no body is a valid cancel or reset: send
        // those to the run where they change nothing (the finished run's cancel, the running run's reset)
        case CANCEL_STALE -> "/v1/runs/" + (c.framing() == Framing.NONE ? finished : running) + "/cancel";
        case RESET_STALE -> "/v1/runs/" + (c.framing() == Framing.NONE ? running : finished) + "/reset";
        case CREATE_TOKEN -> "/v1/admin/tokens";
      };
      String body = switch (c.target()) {
        case SUBMIT -> SUBMIT;
        case CANCEL_STALE, RESET_STALE -> STALE;
        case CREATE_TOKEN -> "{\"name\":\"fuzz\",\"scopes\":[\"runs:read\"]}";
        default -> null;
      };
      List<Map.Entry<String, String>> headers = new ArrayList<>();
      c.auth().values().forEach(v -> headers.add(Map.entry("Authorization", v)));
      if (body != null && c.contentType().value() != null) {
        headers.add(Map.entry("Content-Type", c.contentType().value()));
      }
      if (c.host() != null) {
        headers.add(Map.entry("Host", c.host()));
      }
      if (c.origin() != null) {
        headers.add(Map.entry("Origin", c.origin()));
      }
      headers.addAll(c.extra());
      Answer a = send(new Req(body == null ? "GET" : "POST", path, headers, body == null ? null : body.getBytes(StandardCharsets.UTF_8),
          c.framing()));
      assertServed(a);
      boolean clean = isClean(c, headers);
      Fuzz.label(c.auth().who() + (clean ? " " : " unjudged ") + a.status());
      if (clean) {
        expectAuthorized(c, a, body != null);
      }
      if (c.auth().who() == Who.NONE || c.auth().who() == Who.BAD) {
        // however odd the rest of the request: no token, no success (unless a raw CR LF smuggled a good one in)
        boolean smuggled = c.auth().values().stream().anyMatch(v -> v.contains("\r\n"));
        assertTrue(a.status() / 100 != 2 || smuggled, "no credential, yet a success: " + a);
      }
      if (a.status() / 100 == 2 && (c.target() == HeaderTarget.SUBMIT || c.target() == HeaderTarget.CREATE_TOKEN)) {
        rebaseline();
      } else {
        expectUnchanged();
      }
    });
  }

  /** A request no parser should stumble on, so that its answer is the API's own. */
  private static boolean isClean(HeaderCase c, List<Map.Entry<String, String>> headers) {
    boolean framed = c.framing() == Framing.JDK || c.framing() == Framing.LENGTH;
    boolean plainHeaders = headers.stream().allMatch(h -> h.getValue().length() < 4000 && !h.getKey().startsWith("X-\u00fc")
        && h.getValue().chars().allMatch(ch -> ch >= 0x20 && ch < 0x7f));
    boolean harmlessExtras = c.extra().stream().noneMatch(e -> Set.of("Transfer-Encoding", "Content-Encoding", "Expect",
        "Connection", "Upgrade", "Access-Control-Request-Method").contains(e.getKey()));
    return framed && c.hostWellFormed() && plainHeaders && harmlessExtras && c.contentType().kind() != CtKind.UNKNOWN
        && c.auth().who() != Who.UNSURE;
  }

  /** The door, by who knocks: the gates of {@link ApiRouter} in their order, then the run's own answer. */
  private static void expectAuthorized(HeaderCase c, Answer a, boolean hasBody) throws IOException {
    HeaderTarget t = c.target();
    boolean ownRunRead = t == HeaderTarget.GET_RUNNING || t == HeaderTarget.LOGS_RUNNING;
    boolean runRead = ownRunRead || t == HeaderTarget.EVENTS_FINISHED;
    boolean badBody = hasBody && c.contentType().kind() != CtKind.JSON;
    // If-None-Match: * matches any current representation of a run (or its journal): 304 (RFC 9110 13.1.2)
    boolean anyMatch = c.extra().stream().anyMatch(e -> e.getKey().equals("If-None-Match"));
    switch (c.auth().who()) {
      case NONE, BAD -> {
        assertProblem(a, Set.of(401), "unauthorized");
        assertTrue(a.header("WWW-Authenticate").orElse("").startsWith("Bearer"), "a 401 names the scheme: " + a);
      }
      case ADMIN -> {
        int ok = switch (t) {
          case GET_RUNNING, EVENTS_FINISHED -> anyMatch ? 304 : 200;
          case LOGS_RUNNING -> 200;
          case SUBMIT -> 202;
          case CANCEL_STALE, RESET_STALE -> 409;
          case CREATE_TOKEN -> 201;
        };
        assertEquals(badBody ? 415 : ok, a.status(), a.toString());
      }
      case OTHER -> {
        int expected = t == HeaderTarget.CREATE_TOKEN ? 403 : badBody ? 415 : t == HeaderTarget.SUBMIT ? 202 : 404;
        assertEquals(expected, a.status(), "another tenant sees none of these runs: " + a);
      }
      case RUN -> {
        int expected = ownRunRead ? (t == HeaderTarget.GET_RUNNING && anyMatch ? 304 : 200) : runRead ? 404 : 403;
        assertEquals(expected, a.status(), "a run token reads its own run only: " + a);
      }
      case ENDED_RUN -> {
        int expected = t == HeaderTarget.EVENTS_FINISHED ? 401 : runRead ? 404 : 403;
        assertEquals(expected, a.status(), "the token of an ended attempt is no credential: " + a);
      }
      case UNSURE -> fail("not judged: two Authorization headers (the server reads the first)");
    }
  }

  // ---- sending --------------------------------------------------------------------------------

  /**
   * How the body is framed. {@code JDK}: as the JDK client frames it (raw: a correct
   * Content-Length). The rest only go raw: a correct length, one too short or too long, a
   * negative or unreadable one, two of them, chunked, chunked beside a length, broken chunks, and
   * a body with no framing at all.
   */
  enum Framing { JDK, LENGTH, SHORT, LONG, NEGATIVE, GARBAGE, TWICE, CHUNKED, CHUNKED_AND_LENGTH, BROKEN_CHUNKS, NONE }

  record Req(String method, String target, List<Map.Entry<String, String>> headers, byte[] body, Framing framing) {}

  /** An answer; {@code more} holds the statuses of further answers on a raw connection, {@code status} 0 for none. */
  record Answer(Req request, int status, String contentType, String body, Map<String, List<String>> headers, String via,
      List<Integer> more) {
    Optional<String> header(String name) {
      return headers.entrySet().stream().filter(e -> e.getKey().equalsIgnoreCase(name)).flatMap(e -> e.getValue().stream()).findFirst();
    }

    JsonNode json() throws IOException {
      return ReinsJson.mapper().readTree(body);
    }

    @Override
    public String toString() {
      return request.method() + " " + show(request.target()) + " -> " + (status == 0 ? "no answer" : status) + " (" + via + ") "
          + (contentType == null ? "" : contentType + " ") + show(body) + (more.isEmpty() ? "" : " then " + more);
    }
  }

  private static final Set<String> RESTRICTED = Set.of("host", "content-length", "connection", "expect", "upgrade", "transfer-encoding");

  private Answer send(Req req) throws IOException, InterruptedException {
    if (req.framing() == Framing.JDK && req.headers().stream().noneMatch(h -> RESTRICTED.contains(h.getKey().toLowerCase(Locale.ROOT)))) {
      Optional<HttpRequest> jdk = jdkRequest(req);
      if (jdk.isPresent()) {
        HttpResponse<String> r = http.send(jdk.get(), HttpResponse.BodyHandlers.ofString());
        return new Answer(req, r.statusCode(), r.headers().firstValue("Content-Type").orElse(null), r.body(), r.headers().map(), "jdk",
            List.of());
      }
    }
    return sendRaw(req);
  }

  /** The request as the JDK client builds it, or empty where it refuses (see the class comment). */
  private Optional<HttpRequest> jdkRequest(Req req) {
    if (!req.target().chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
      return Optional.empty(); // URI would take some of these, but send them re-encoded: raw keeps them as given
    }
    try {
      URI uri = URI.create("http://127.0.0.1:" + server.port() + req.target());
      if (uri.getRawFragment() != null || !(uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery()))
          .equals(req.target())) {
        return Optional.empty(); // the client would drop or change part of the target
      }
      HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30))
          .method(req.method(), req.body() == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(req.body()));
      for (Map.Entry<String, String> h : req.headers()) {
        b.header(h.getKey(), h.getValue());
      }
      return Optional.of(b.build());
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
  }

  private Answer sendRaw(Req req) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes((req.method() + " " + req.target() + " HTTP/1.1\r\n").getBytes(StandardCharsets.UTF_8));
    boolean hostGiven = req.headers().stream().anyMatch(h -> h.getKey().equalsIgnoreCase("Host"));
    if (!hostGiven) {
      header(out, "Host", "127.0.0.1:" + server.port());
    }
    for (Map.Entry<String, String> h : req.headers()) {
      if (!(h.getKey().equalsIgnoreCase("Host") && h.getValue().equals("(none)"))) {
        header(out, h.getKey(), h.getValue());
      }
    }
    header(out, "Connection", "close");
    byte[] body = req.body() == null ? new byte[0] : req.body();
    int n = body.length;
    boolean halfClose = false;
    switch (req.framing()) {
      case JDK, LENGTH -> {
        if (req.body() != null || !Set.of("GET", "HEAD", "OPTIONS", "TRACE", "CONNECT").contains(req.method())) {
          header(out, "Content-Length", Integer.toString(n));
        }
      }
      case SHORT -> header(out, "Content-Length", Integer.toString(n / 2));
      case LONG -> {
        header(out, "Content-Length", Integer.toString(n + 10));
        halfClose = true;
      }
      case NEGATIVE -> header(out, "Content-Length", "-1");
      case GARBAGE -> header(out, "Content-Length", n + "x");
      case TWICE -> {
        header(out, "Content-Length", Integer.toString(n));
        header(out, "Content-Length", Integer.toString(n + 1));
      }
      case CHUNKED, CHUNKED_AND_LENGTH, BROKEN_CHUNKS -> {
        header(out, "Transfer-Encoding", "chunked");
        if (req.framing() == Framing.CHUNKED_AND_LENGTH) {
          header(out, "Content-Length", Integer.toString(n));
        }
      }
      case NONE -> { }
    }
    out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
    switch (req.framing()) {
      case CHUNKED, CHUNKED_AND_LENGTH -> {
        if (n > 0) {
          out.writeBytes((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
          out.writeBytes(body);
          out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
        out.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      }
      case BROKEN_CHUNKS -> {
        out.writeBytes("zz\r\n".getBytes(StandardCharsets.US_ASCII));
        out.writeBytes(body);
      }
      default -> out.writeBytes(body);
    }
    List<RawHttp.Response> responses = RawHttp.exchange(server.port(), out.toByteArray(), req.method(), halfClose,
        Duration.ofSeconds(halfClose ? 3 : 30));
    if (responses.isEmpty()) {
      return new Answer(req, 0, null, "", Map.of(), "raw", List.of());
    }
    RawHttp.Response first = responses.get(0);
    return new Answer(req, first.status(), first.header("Content-Type"), first.bodyText(), first.headers(), "raw",
        responses.subList(1, responses.size()).stream().map(RawHttp.Response::status).toList());
  }

  private static void header(ByteArrayOutputStream out, String name, String value) {
    out.writeBytes((name + ": " + value + "\r\n").getBytes(StandardCharsets.UTF_8));
  }

  // ---- checks -----------------------------------------------------------------------------------

  /** Never a 5xx, never an error in the server's log, every 4xx a problem document. */
  private void assertServed(Answer a) throws IOException {
    List<String> errors;
    synchronized (logged) {
      errors = logged.list.stream()
          .filter(e -> e.getLevel().isGreaterOrEqual(Level.ERROR))
          .map(e -> e.getLoggerName() + ": " + e.getFormattedMessage()
              + (e.getThrowableProxy() == null ? "" : " " + e.getThrowableProxy().getClassName() + ": " + e.getThrowableProxy().getMessage()))
          .toList();
      logged.list.clear();
    }
    assertEquals(List.of(), errors, "the server logged errors for " + a);
    assertTrue(a.status() < 500, "a 5xx: " + a);
    assertTrue(a.more().stream().allMatch(s -> s < 500), "a 5xx on the same connection: " + a);
    if (a.status() == 0) {
      // a body announced longer than sent: the connection ends before the request does
      assertEquals(Framing.LONG, a.request().framing(), "no answer at all: " + a);
    }
    if (a.status() >= 400 && !a.request().method().equals("HEAD")) {
      assertEquals("application/problem+json", a.contentType() == null ? null : a.contentType().split(";")[0].trim(),
          "a 4xx is a problem: " + a);
      JsonNode p = a.json();
      assertTrue(p.path("type").isTextual() && p.path("type").asText().startsWith("urn:reins:problem:"), "a problem type: " + a);
      assertEquals(a.status(), p.path("status").asInt(), a.toString());
    }
  }

  /** {@code kind}: the problem type after {@code urn:reins:problem:}, or {@code null} for any. */
  private static void assertProblem(Answer a, Set<Integer> statuses, String kind) throws IOException {
    assertTrue(statuses.contains(a.status()), "expected " + statuses + ": " + a);
    assertEquals("application/problem+json", a.contentType() == null ? null : a.contentType().split(";")[0].trim(), a.toString());
    if (kind != null) {
      assertEquals("urn:reins:problem:" + kind, a.json().path("type").asText(), a.toString());
    }
  }

  // ---- what must not change -------------------------------------------------------------------

  /** A run as its owner sees it. */
  record RunFacts(String state, int attempt, long version, String etag) {}

  /**
   * Everything a rejected request must leave alone: the known runs, how many runs the journal
   * holds, its other rows (sharding's remembered entities: starting an entity writes one), and the
   * tokens.
   */
  record Snapshot(RunFacts running, RunFacts finished, long runs, long otherJournalRows, long tokens, long revokedTokens) {}

  private Snapshot snapshot() throws Exception {
    RunFacts r = facts(running);
    RunFacts f = facts(finished);
    try (Connection c = db.open(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
        "SELECT (SELECT COUNT(DISTINCT \"persistence_id\") FROM \"event_journal\" WHERE \"persistence_id\" LIKE 'Run|%'),"
            + " (SELECT COUNT(*) FROM \"event_journal\" WHERE \"persistence_id\" NOT LIKE 'Run|%'),"
            + " (SELECT COUNT(*) FROM reins_api_token), (SELECT COUNT(*) FROM reins_api_token WHERE revoked_at IS NOT NULL)")) {
      rs.next();
      return new Snapshot(r, f, rs.getLong(1), rs.getLong(2), rs.getLong(3), rs.getLong(4));
    }
  }

  private RunFacts facts(String id) throws Exception {
    HttpResponse<String> r = server.get("/v1/runs/" + id);
    assertEquals(200, r.statusCode(), r.body());
    JsonNode run = TestServer.json(r);
    return new RunFacts(run.get("state").asText(), run.get("attempt").asInt(), run.get("version").asLong(),
        r.headers().firstValue("ETag").orElse(null));
  }

  private void expectUnchanged() throws Exception {
    Snapshot now = snapshot();
    if (!now.equals(baseline)) {
      fail("a request that changed nothing it should have changed left: " + now + "\n  before: " + baseline);
    }
  }

  /** After an accepted submit (or token): the known runs are untouched, one more run (or token). */
  private void rebaseline() throws Exception {
    Snapshot now = snapshot();
    assertEquals(baseline.running(), now.running(), "an accepted request elsewhere changed the running run");
    assertEquals(baseline.finished(), now.finished(), "an accepted request elsewhere changed the finished run");
    assertTrue(now.runs() - baseline.runs() + now.tokens() - baseline.tokens() <= 1, "one request, one new thing: " + now);
    baseline = now;
  }

  // ---- helpers ----------------------------------------------------------------------------------

  private static List<Map.Entry<String, String>> admin() {
    return bearer(TestServer.ADMIN_TOKEN);
  }

  private static List<Map.Entry<String, String>> bearer(String token) {
    return List.of(Map.entry("Authorization", "Bearer " + token));
  }

  private static String argv(String script) throws IOException {
    return ReinsJson.mapper().writeValueAsString(List.of("sh", "-c", script));
  }

  private String tokenInLogs(String id) throws Exception {
    HttpResponse<String> r = server.get("/v1/runs/" + id + "/logs");
    assertEquals(200, r.statusCode(), r.body());
    String token = r.body().trim();
    assertTrue(token.split("\\.").length == 3, "a JWT in the log: " + token);
    return token;
  }

  private static ch.qos.logback.classic.Logger root() {
    return (ch.qos.logback.classic.Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  }

  /** What the query parameters say, restated apart from the server, where that is simple to say. */
  static final class QueryOracle {
    private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9._~!$'()*,:@/?=&+%-]*");
    private static final Pattern WAIT = Pattern.compile("([0-9]+)(ms|s)?");

    private QueryOracle() {}

    /**
     * The parameters, decoded as a form ({@code +} is a space), when the query is plain enough to
     * be sure how any server reads it: only URI characters, every escape whole and UTF-8, {@code &}
     * as the only separator, and none of wait, attempt and tail twice.
     */
    static Optional<Map<String, String>> decode(String query) {
      if (!SAFE.matcher(query).matches()) {
        return Optional.empty();
      }
      Map<String, String> params = new HashMap<>();
      Map<String, Integer> seen = new HashMap<>();
      if (query.isEmpty()) {
        return Optional.of(params);
      }
      for (String pair : query.split("&", -1)) {
        if (pair.isEmpty()) {
          return Optional.empty(); // "a=1&&b=2": an empty parameter; no rule says what it is
        }
        int eq = pair.indexOf('=');
        Optional<String> name = strictDecode(eq < 0 ? pair : pair.substring(0, eq));
        Optional<String> value = strictDecode(eq < 0 ? "" : pair.substring(eq + 1));
        if (name.isEmpty() || value.isEmpty()) {
          return Optional.empty();
        }
        seen.merge(name.get(), 1, Integer::sum);
        params.putIfAbsent(name.get(), value.get());
      }
      for (String relevant : List.of("wait", "attempt", "tail")) {
        if (seen.getOrDefault(relevant, 0) > 1) {
          return Optional.empty();
        }
      }
      return Optional.of(params);
    }

    private static Optional<String> strictDecode(String s) {
      try {
        // bytes first (ISO-8859-1 maps each escape to one char), then strictly as UTF-8
        byte[] bytes = URLDecoder.decode(s, StandardCharsets.ISO_8859_1).getBytes(StandardCharsets.ISO_8859_1);
        return Optional.of(StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(java.nio.ByteBuffer.wrap(bytes)).toString());
      } catch (IllegalArgumentException | CharacterCodingException e) {
        return Optional.empty();
      }
    }

    /** {@code wait}: whole seconds or milliseconds ({@code 5}, {@code 5s}, {@code 500ms}), at most 60 s. */
    static boolean waitValid(String wait) {
      Matcher m = WAIT.matcher(wait.trim());
      if (!m.matches()) {
        return false;
      }
      BigInteger n = new BigInteger(m.group(1));
      return n.compareTo(BigInteger.valueOf("ms".equals(m.group(2)) ? 60_000 : 60)) <= 0;
    }

    /** The parameter a logs query of a run with one attempt gets a 400 for, if any. */
    static Optional<String> badLogsParameter(Map<String, String> p) {
      Optional<Integer> tail = Optional.empty();
      Optional<Integer> attempt = Optional.empty();
      if (p.containsKey("tail")) {
        try {
          tail = Optional.of(Integer.parseInt(p.get("tail")));
        } catch (NumberFormatException e) {
          return Optional.of("tail");
        }
      }
      if (p.containsKey("attempt")) {
        try {
          attempt = Optional.of(Integer.parseInt(p.get("attempt")));
        } catch (NumberFormatException e) {
          return Optional.of("attempt");
        }
      }
      if (tail.isPresent() && (tail.get() < 0 || tail.get() > 10 * 1024 * 1024)) {
        return Optional.of("tail");
      }
      if (attempt.isPresent() && attempt.get() != 1) {
        return Optional.of("attempt");
      }
      return Optional.empty();
    }
  }
}
