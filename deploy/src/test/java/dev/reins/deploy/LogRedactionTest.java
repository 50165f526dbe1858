package dev.reins.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.status.Status;
import java.io.ByteArrayOutputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The server's own logging configuration (deploy's logback.xml, not the tests' one) masks every
 * shape of secret Reins knows, in messages and in stack traces, and leaves everything else alone.
 */
class LogRedactionTest {
  private static final String API_TOKEN = "reins_Q2hhbmdlIG1lOiB0aGlzIGlzIG5vdCBhIHJlYWwgdG9rZW4-_x";
  private static final String JWT = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIn0"
      + ".eyJzdWIiOiJydW46NWIwZSIsInRlbmFudCI6ImRlZmF1bHQiLCJhdHRlbXB0IjoxfQ"
      + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

  protected LoggerContext context;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();

  /** The log format under test ({@code REINS_LOG_FORMAT}): the name of the appender it picks. */
  protected String format() {
    return "text";
  }

  @BeforeEach
  void configure() throws Exception {
    URL config = LogRedactionTest.class.getClassLoader().getResource("logback.xml");
    assertTrue(config != null && config.getPath().endsWith("/classes/logback.xml"), "the main logback.xml: " + config);
    context = new LoggerContext();
    context.setMDCAdapter(new LogbackMDCAdapter());
    context.putProperty("REINS_LOG_FORMAT", format());
    JoranConfigurator configurator = new JoranConfigurator();
    configurator.setContext(context);
    configurator.doConfigure(config);
    OutputStreamAppender<?> console =
        (OutputStreamAppender<?>) context.getLogger(Logger.ROOT_LOGGER_NAME).getAppender("STDOUT");
    console.setOutputStream(out);
    assertNoWarnings();
  }

  @AfterEach
  void stop() {
    assertNoWarnings();
    context.stop();
  }

  /** logback reports a broken pattern or a failed append only in its status list. */
  private void assertNoWarnings() {
    List<Status> statuses = context.getStatusManager().getCopyOfStatusList();
    assertTrue(statuses.stream().allMatch(s -> s.getLevel() == Status.INFO), "logback complains: " + statuses);
  }

  protected String log(String message) {
    context.getLogger("dev.reins.test").info(message);
    return logged();
  }

  /** What was logged, as text: in JSON, each line's message and stack trace (the assertions are the same). */
  protected String logged() {
    return out.toString(StandardCharsets.UTF_8);
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "jdbc:postgresql://db:5432/reins?user=reins&password=hunter2&ssl=true",
      "jdbc:postgresql://db:5432/reins?user=reins&sslpassword=hunter2",
      "jdbc:h2:file:/var/lib/reins/journal;USER=sa;PASSWORD=hunter2;AUTO_SERVER=TRUE",
      "postgres://reins:hunter2@db.example:5432/reins",
      "jdbc:postgresql://reins:hunter2@db.example/reins",
      "{\"user\":\"reins\",\"password\": \"hunter2\"}"})
  void databasePasswordsAreMasked(String secret) {
    String line = log("connecting to " + secret + " now");
    assertFalse(line.contains("hunter2"), line);
    assertTrue(line.contains("***"), line);
    assertTrue(line.contains("connecting to ") && line.contains(" now"), line);
  }

  @Test
  void whatIsAroundAPasswordStays() {
    assertTrue(log("url jdbc:postgresql://db:5432/reins?user=reins&password=hunter2&ssl=true")
        .contains("url jdbc:postgresql://db:5432/reins?user=reins&password=***&ssl=true"));
    assertTrue(log("url postgres://reins:hunter2@db.example:5432/reins").contains("url postgres://reins:***@db.example:5432/reins"));
  }

  @Test
  void apiTokensAndPerRunTokensAreMasked() {
    String line = log("token " + API_TOKEN + " and REINS_TOKEN=" + JWT + "; Authorization: Bearer some-admin-secret");
    assertFalse(line.contains(API_TOKEN.substring("reins_".length())), line);
    assertFalse(line.contains(JWT.substring(JWT.lastIndexOf('.') + 1)), line);
    assertFalse(line.contains(JWT.substring(0, JWT.indexOf('.'))), line);
    assertFalse(line.contains("some-admin-secret"), line);
    assertTrue(line.contains("token reins_*** and REINS_TOKEN=***; Authorization: Bearer ***"), line);
  }

  @Test
  void secretsInExceptionsAreMaskedAndTheStackTraceIsPrintedOnce() {
    Exception e = new IllegalStateException("cannot open jdbc:h2:file:/x;PASSWORD=hunter2",
        new RuntimeException("rejected token " + API_TOKEN));
    context.getLogger("dev.reins.test").error("start-up failed", e);
    String text = logged();
    assertFalse(text.contains("hunter2"), text);
    assertFalse(text.contains(API_TOKEN), text);
    assertTrue(text.contains("java.lang.IllegalStateException: cannot open jdbc:h2:file:/x;PASSWORD=***"), text);
    assertTrue(text.contains("Caused by: java.lang.RuntimeException: rejected token reins_***"), text);
    assertTrue(text.contains("at dev.reins.deploy.LogRedactionTest"), "the stack trace is there: " + text);
    assertEquals(1, text.split("java.lang.IllegalStateException", -1).length - 1, text);
  }

  @Test
  void ordinaryTextSurvives() {
    for (String plain : List.of(
        "run 5b0e1c attempt 2: TERM to pid 1234 and its tree, KILL in PT10S",
        "Reins is listening on http://127.0.0.1:8080 (journal: JournalDatabase[H2 jdbc:h2:file:/data/journal/reins;AUTO_SERVER=TRUE], data: /data)",
        "Cluster Node [pekko://reins@127.0.0.1:25520] - Welcome from [pekko://reins@127.0.0.1:25520]",
        "SELECT COUNT(*) FROM reins_api_token; reins_signing_key rotated",
        "wrong user name or password: check REINS_DB_PASSWORD",
        "token id Xy3_kq9LmN0pQr2s (tenant default) revoked")) {
      assertTrue(log(plain).contains(plain + System.lineSeparator()), "survives unchanged: " + plain + "\n" + logged());
    }
  }
}
