package dev.reins.http;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.reins.protocol.json.ReinsJson;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.HttpCharsets;
import org.apache.pekko.http.javadsl.model.StatusCodes;

/**
 * An RFC 9457 problem detail. {@code type} names the kind of problem (stable, documented in the
 * README), {@code field} the offending request field for validation problems.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Problem(String type, String title, int status, String detail, String field) {

  public static final ContentType.NonBinary PROBLEM_JSON =
      MediaTypes.applicationWithFixedCharset("problem+json", HttpCharsets.UTF_8).toContentType();

  private static final String PREFIX = "urn:reins:problem:";

  public static Problem of(int status, String kind, String title, String detail) {
    return new Problem(PREFIX + kind, title, status, detail, null);
  }

  public static Problem invalidField(String field, String detail) {
    return new Problem(PREFIX + "invalid-field", "Invalid field", 400, detail, field);
  }

  public static Problem malformedJson(String detail) {
    return of(400, "malformed-json", "Malformed JSON", detail);
  }

  public static Problem notFound(String detail) {
    return of(404, "not-found", "Not found", detail);
  }

  public HttpResponse toResponse() {
    try {
      return HttpResponse.create()
          .withStatus(StatusCodes.get(status))
          .withEntity(HttpEntities.create(PROBLEM_JSON, ReinsJson.mapper().writeValueAsBytes(this)));
    } catch (Exception e) {
      throw new IllegalStateException("cannot render problem", e);
    }
  }
}
