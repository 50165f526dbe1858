package dev.reins.http;

import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.DefaultParsingErrorHandler$;
import org.apache.pekko.http.ParsingErrorHandler;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.scaladsl.model.ErrorInfo;
import org.apache.pekko.http.scaladsl.model.StatusCode;
import org.apache.pekko.http.scaladsl.settings.ServerSettings;

/**
 * Answers requests that are not well-formed HTTP (a broken request line or target, an illegal
 * header, conflicting body framing, an unknown method or protocol version), which Pekko refuses
 * before any route sees them, with a problem document like every other answer of the API.
 *
 * <p>Pekko answers an unknown method with 501 and an unknown protocol version with 505; both are
 * the client's doing, and a 5xx says the server failed (it pages operators, clients retry it), so
 * they are answered 400. Set as {@code pekko.http.server.parsing.error-handler}.
 */
public final class ParsingErrors extends ParsingErrorHandler {

  @Override
  public HttpResponse handle(StatusCode status, ErrorInfo info, LoggingAdapter log, ServerSettings settings) {
    // Pekko's own handler logs the error as configured (parsing.error-logging-verbosity); only its answer is replaced
    DefaultParsingErrorHandler$.MODULE$.handle(status, info, log, settings);
    int code = status.intValue() >= 500 ? 400 : status.intValue();
    String detail = info.summary() + (settings.verboseErrorMessages() && !info.detail().isEmpty() ? ": " + info.detail() : "");
    Problem problem = code == 413
        ? Problem.of(413, "payload-too-large", "Payload too large", detail)
        : Problem.of(code, "malformed-request", code == 400 ? "Malformed request" : status.reason(), detail);
    return problem.toResponse();
  }
}
