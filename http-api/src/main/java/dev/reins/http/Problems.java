package dev.reins.http;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import dev.reins.persistence.JournalHealth;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.model.HttpMethod;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.Allow;
import org.apache.pekko.http.javadsl.model.headers.Connection;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.MalformedQueryParamRejection;
import org.apache.pekko.http.javadsl.server.MalformedRequestContentRejection;
import org.apache.pekko.http.javadsl.server.MethodRejection;
import org.apache.pekko.http.javadsl.server.MissingQueryParamRejection;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.server.Directives;
import org.apache.pekko.http.javadsl.server.UnsupportedRequestContentTypeRejection;
import org.apache.pekko.pattern.AskTimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns every failure into an RFC 9457 problem: client mistakes get a 4xx naming the field or the
 * reason; only broken infrastructure gets a 5xx (and is logged).
 */
final class Problems {
  private static final Logger log = LoggerFactory.getLogger(Problems.class);

  private Problems() {}

  static Route complete(Problem p) {
    return Directives.complete(p.toResponse());
  }

  static Route complete(Problem p, List<HttpHeader> headers) {
    return Directives.complete(p.toResponse().addHeaders(headers));
  }

  /** 401 with the challenge RFC 6750 asks for; {@code invalidToken} when a token was sent. */
  static Route unauthorized(String detail, boolean invalidToken) {
    String challenge = invalidToken ? "Bearer realm=\"reins\", error=\"invalid_token\"" : "Bearer realm=\"reins\"";
    return complete(Problem.of(401, "unauthorized", "Unauthorized", detail),
        List.of(RawHeader.create("WWW-Authenticate", challenge)));
  }

  /** 503: nothing was done (or it may still happen, as {@code detail} says); try again later. */
  static Route unavailable(String detail, Duration retryAfter) {
    return complete(Problem.of(503, "unavailable", "Service unavailable", detail), List.of(retryAfter(retryAfter)));
  }

  /** 429: a limit of the caller's tenant; {@code retryAfter} says when a retry may pass. */
  static Route tooManyRequests(String detail, Duration retryAfter) {
    return complete(Problem.of(429, "too-many-requests", "Too many requests", detail), List.of(retryAfter(retryAfter)));
  }

  static HttpHeader retryAfter(Duration d) {
    long seconds = Math.max(1, (d.toMillis() + 999) / 1000);
    return RawHeader.create("Retry-After", Long.toString(seconds));
  }

  /** A Jackson failure on a request body, as a problem naming the field where possible. */
  static Problem fromJson(JsonProcessingException e) {
    // A syntax error inside a value reaches us wrapped with the path of the value; it is still a
    // body that is not JSON, not a field with a wrong value.
    JsonParseException syntax = syntaxError(e);
    if (syntax != null) {
      return malformed(syntax);
    }
    if (e instanceof UnrecognizedPropertyException u) {
      return Problem.invalidField(path(u), "unknown field '" + u.getPropertyName() + "'");
    }
    if (e instanceof InvalidFormatException f) {
      return Problem.invalidField(path(f), "wrong type or format: " + f.getValue() + " is not a valid " + simpleType(f));
    }
    if (e instanceof MismatchedInputException m) {
      return Problem.invalidField(path(m), "wrong type: expected " + simpleType(m));
    }
    if (e instanceof JsonMappingException m && !m.getPath().isEmpty()) {
      return Problem.invalidField(path(m), m.getOriginalMessage());
    }
    return malformed(e);
  }

  private static Problem malformed(JsonProcessingException e) {
    String where = e.getLocation() == null ? "" : " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr();
    return Problem.malformedJson("the body is not valid JSON" + where + ": " + e.getOriginalMessage());
  }

  private static JsonParseException syntaxError(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof JsonParseException p) {
        return p;
      }
    }
    return null;
  }

  private static String simpleType(MismatchedInputException e) {
    Class<?> t = e.getTargetType();
    if (t == null) {
      return "value";
    }
    if (t == String.class) {
      return "string";
    }
    if (Number.class.isAssignableFrom(t) || t.isPrimitive()) {
      return "number";
    }
    if (java.util.List.class.isAssignableFrom(t)) {
      return "array";
    }
    if (java.util.Map.class.isAssignableFrom(t) || t.isRecord()) {
      return "object";
    }
    return t.getSimpleName();
  }

  /** {@code executor.command[0]} style path of a Jackson error. */
  static String path(JsonMappingException e) {
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference r : e.getPath()) {
      if (r.getFieldName() != null) {
        if (sb.length() > 0) {
          sb.append('.');
        }
        sb.append(r.getFieldName());
      } else if (r.getIndex() >= 0) {
        sb.append('[').append(r.getIndex()).append(']');
      }
    }
    return sb.length() == 0 ? null : sb.toString();
  }

  static ExceptionHandler exceptionHandler(Duration retryAfter) {
    return ExceptionHandler.newBuilder()
        .matchAny(e -> handle(e, retryAfter))
        .build();
  }

  private static Route handle(Throwable e, Duration retryAfter) {
    if (e instanceof EntityStreamSizeException size) {
      // The rest of the body is never read, so the connection cannot carry another request: say
      // so, or a keep-alive client would send its next request into a closing connection.
      return Directives.complete(Problem.of(413, "payload-too-large", "Payload too large",
              "the request body is larger than the limit of " + size.limit() + " bytes")
          .toResponse()
          .addHeader(Connection.create("close")));
    }
    if (e instanceof JournalHealth.JournalUnavailable) {
      // known before anything was sent: no need to log each one (JournalHealth logs the outage)
      return unavailable(e.getMessage(), retryAfter);
    }
    if (e instanceof AskTimeoutException || e instanceof TimeoutException) {
      log.warn("a run did not answer in time: {}", e.toString());
      return unavailable("the run did not answer in time (is the journal database down?); the request may still take "
          + "effect: read the run before repeating it", retryAfter);
    }
    if (e instanceof SQLException) {
      log.warn("database error while handling a request: {}", e.toString());
      return unavailable("the database does not answer; nothing was done", retryAfter);
    }
    if (e instanceof CompletionException && e.getCause() != null) {
      return handle(e.getCause(), retryAfter);
    }
    return unexpected(e);
  }

  private static Route unexpected(Throwable e) {
    log.error("unexpected error while handling a request", e);
    return complete(Problem.of(500, "internal", "Internal error", "an unexpected error occurred; see the server log"));
  }

  /** RFC 9110 (15.5.6): a 405 must say in {@code Allow} which methods the resource has. */
  private static Route methodNotAllowed(List<HttpMethod> allowed) {
    Problem p = Problem.of(405, "method-not-allowed", "Method not allowed",
        "allowed: " + String.join(", ", allowed.stream().map(HttpMethod::name).toList()));
    return Directives.complete(p.toResponse().addHeader(Allow.create(allowed.toArray(HttpMethod[]::new))));
  }

  /** Pekko's default rejection answers are text/plain; every answer of the API is a problem. */
  private static HttpResponse asProblem(HttpResponse response) {
    if (response.entity().getContentType().equals(Problem.PROBLEM_JSON)
        || !(response.entity() instanceof HttpEntity.Strict strict)) {
      return response;
    }
    int status = response.status().intValue();
    return Problem.of(status, "request-rejected", response.status().reason(), strict.getData().utf8String()).toResponse();
  }

  static RejectionHandler rejectionHandler() {
    return RejectionHandler.newBuilder()
        .handle(MalformedRequestContentRejection.class, r -> r.getCause() instanceof EntityStreamSizeException
            ? handle(r.getCause(), Duration.ZERO)
            : complete(Problem.malformedJson(r.message())))
        .handle(MalformedQueryParamRejection.class, r -> complete(Problem.invalidField(r.parameterName(), r.errorMsg())))
        .handle(MissingQueryParamRejection.class, r -> complete(Problem.invalidField(r.parameterName(), "required query parameter")))
        .handle(UnsupportedRequestContentTypeRejection.class, r -> complete(Problem.of(415, "unsupported-media-type",
            "Unsupported media type", "send the body as application/json")))
        .handleAll(MethodRejection.class, rs -> methodNotAllowed(rs.stream().map(MethodRejection::supported).distinct().toList()))
        .handleNotFound(complete(Problem.notFound("no such resource; see the README for the API")))
        .build()
        .withFallback(RejectionHandler.defaultHandler())
        .mapRejectionResponse(Problems::asProblem);
  }
}
