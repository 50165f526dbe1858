package dev.reins.http;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
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
    rejectUnpairedSurrogates(body);
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

  /**
   * JSON may escape half of a UTF-16 surrogate pair ({@code "\\ud800"}), which is no text: such a
   * string cannot be written as UTF-8, so a run or delegation that held one could not be journaled
   * and read back. Refused as malformed. Only a body with such an escape is read twice.
   */
  private static void rejectUnpairedSurrogates(String body) throws JsonProcessingException {
    if (!mayEscapeASurrogate(body)) {
      return;
    }
    try (JsonParser parser = MAPPER.createParser(body)) {
      for (JsonToken token = parser.nextToken(); token != null; token = parser.nextToken()) {
        if ((token == JsonToken.FIELD_NAME || token == JsonToken.VALUE_STRING) && hasUnpairedSurrogate(parser.getText())) {
          throw new JsonParseException(parser,
              "a string escapes half of a UTF-16 surrogate pair (\\uD800-\\uDFFF without its other half), which is not text");
        }
      }
    } catch (JsonProcessingException e) {
      throw e;
    } catch (IOException e) {
      throw new UncheckedIOException("reading a string cannot fail", e);
    }
  }

  private static boolean mayEscapeASurrogate(String body) {
    for (int i = body.indexOf("\\u"); i >= 0 && i + 2 < body.length(); i = body.indexOf("\\u", i + 2)) {
      char c = body.charAt(i + 2);
      if (c == 'd' || c == 'D') {
        return true;
      }
    }
    return false;
  }

  static boolean hasUnpairedSurrogate(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return true;
      }
    }
    return false;
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
