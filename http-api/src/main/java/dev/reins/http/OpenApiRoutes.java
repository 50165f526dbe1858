package dev.reins.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.server.AllDirectives;

/**
 * {@code GET /v1/openapi.json}: the OpenAPI 3.1 description of this API, a resource of this
 * module. Public, like health: it holds no secret, and clients generate their code from it before
 * they have a token. The contract test checks every exchange of the HTTP tests against it.
 */
final class OpenApiRoutes extends AllDirectives {
  static final String RESOURCE = "/reins/openapi.json";

  private final byte[] document = load();

  List<Endpoint> endpoints() {
    return List.of(Endpoint.get("/openapi.json", Access.PUBLIC, c -> complete(
        HttpResponse.create().withEntity(HttpEntities.create(ContentTypes.APPLICATION_JSON, document)))));
  }

  static byte[] load() {
    try (InputStream in = OpenApiRoutes.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException("the OpenAPI description " + RESOURCE + " is missing from the class path");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
