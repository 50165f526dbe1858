package dev.reins.http;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.reins.protocol.json.ReinsJson;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.CompletionException;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.server.Directives;
import org.apache.pekko.http.javadsl.server.Route;

/** Request bodies in, JSON answers out, with the one mapper of the API ({@link ReinsJson}). */
final class Json {
  private static final ObjectMapper MAPPER = ReinsJson.mapper();

  private Json() {}

  /**
   * Reads a body that must be exactly one JSON value: {@code {...} {...}} or a value followed by
   * garbage is malformed, not a request to guess at. JSON {@code null} reads as {@code null}.
   */
  static <T> T read(String body, Class<T> type) throws JsonProcessingException {
    try (JsonParser parser = MAPPER.createParser(body)) {
      T value = MAPPER.readValue(parser, type);
      if (parser.nextToken() != null) {
        throw new JsonParseException(parser, "unexpected content after the JSON value");
      }
      return value;
    } catch (JsonProcessingException e) {
      throw e;
    } catch (IOException e) {
      throw new UncheckedIOException("reading a string cannot fail", e);
    }
  }

  static Route complete(StatusCode status, Object body, List<HttpHeader> headers) {
    return Directives.complete(response(status, body, headers));
  }

  static HttpResponse response(StatusCode status, Object body, List<HttpHeader> headers) {
    try {
      return HttpResponse.create()
          .withStatus(status)
          .addHeaders(headers)
          .withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, MAPPER.writeValueAsBytes(body)));
    } catch (JsonProcessingException e) {
      throw new CompletionException(e);
    }
  }
}
