//! Between actix-web's request and response types and the `http` crate's,
//! which the resolution speaks.

use actix_web::HttpResponse;
use actix_web::dev::RequestHead;
use actix_web::http::StatusCode;
use tenancy_tower::TenantRejection;

/// The request head as `http` parts: method, URI and headers. A header the
/// `http` crate does not accept is left out (the resolution then sees what
/// a well-formed request would carry); a method or URI it does not accept
/// is a malformed request.
pub(crate) fn parts(head: &RequestHead) -> Result<http::request::Parts, TenantRejection> {
    let bad = |what: &str| TenantRejection::Malformed {
        strategy: "request",
        reason: what.to_owned(),
    };
    let method = http::Method::from_bytes(head.method.as_str().as_bytes())
        .map_err(|_| bad("the method is not valid"))?;
    let uri: http::Uri = head
        .uri
        .to_string()
        .parse()
        .map_err(|_| bad("the URI is not valid"))?;
    let mut builder = http::Request::builder().method(method).uri(uri);
    for (name, value) in &head.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            builder = builder.header(name, value);
        }
    }
    builder
        .body(())
        .map(|request| request.into_parts().0)
        .map_err(|_| bad("the request head is not valid"))
}

/// A rendered rejection as an actix response: status, headers, body.
pub(crate) fn response(rejection: http::Response<String>) -> HttpResponse {
    let (parts, body) = rejection.into_parts();
    let status =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        response.append_header((name.as_str(), value.as_bytes()));
    }
    response.body(body)
}
