//! Turns a web action's result into an HTTP response by extension (`.json`, `.html`, `.svg`, `.text`, `.http`).

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::Value;

use super::error::{ApiError, ApiResult};

fn text(status: StatusCode, ct: &'static str, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert("content-type", HeaderValue::from_static(ct));
    r
}

fn field<'a>(v: &'a Value, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|n| v.get(*n))
}

/// Renders `result` for extension `ext`.
pub fn render(ext: &str, result: Value) -> ApiResult<Response> {
    match ext {
        "json" => match result {
            Value::Object(_) | Value::Array(_) => Ok(Json(result).into_response()),
            _ => Err(ApiError::bad("The action did not return a dictionary or array.")),
        },
        "html" => match field(&result, &["body", "html"]) {
            Some(Value::String(s)) => Ok(text(StatusCode::OK, "text/html; charset=UTF-8", s.clone())),
            _ => Err(ApiError::bad("The action did not produce an HTML string.")),
        },
        "svg" => match field(&result, &["body", "svg"]) {
            Some(Value::String(s)) => Ok(text(StatusCode::OK, "image/svg+xml", s.clone())),
            _ => Err(ApiError::bad("The action did not produce an SVG string.")),
        },
        "text" => match field(&result, &["body", "text"]) {
            Some(Value::String(s)) => Ok(text(StatusCode::OK, "text/plain; charset=UTF-8", s.clone())),
            Some(other) => Ok(text(
                StatusCode::OK,
                "text/plain; charset=UTF-8",
                serde_json::to_string_pretty(other).unwrap_or_default(),
            )),
            None => Err(ApiError::NotFound),
        },
        _ => http(result),
    }
}

fn http(result: Value) -> ApiResult<Response> {
    let Value::Object(m) = result else {
        return Err(ApiError::bad("The action did not return a dictionary."));
    };
    let body = m.get("body").cloned();
    let status = match m.get("statusCode").or_else(|| m.get("code")) {
        None => {
            if body.as_ref().is_some_and(|b| !b.is_null()) {
                StatusCode::OK
            } else {
                StatusCode::NO_CONTENT
            }
        }
        Some(v) => {
            let n = v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
            n.and_then(|n| u16::try_from(n).ok())
                .and_then(|n| StatusCode::from_u16(n).ok())
                .ok_or_else(|| ApiError::bad("Invalid HTTP status code."))?
        }
    };
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    let mut content_type: Option<String> = None;
    if let Some(Value::Object(h)) = m.get("headers") {
        for (k, v) in h {
            let val = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if k.eq_ignore_ascii_case("content-type") {
                content_type = Some(val.clone());
            }
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| ApiError::bad("Invalid header name."))?;
            let value = HeaderValue::from_str(&val).map_err(|_| ApiError::bad("Invalid header value."))?;
            headers.push((name, value));
        }
    }
    let bytes: Vec<u8> = match &body {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => {
            let binary = content_type.as_deref().is_some_and(|ct| {
                let ct = ct.to_ascii_lowercase();
                !(ct.starts_with("text/") || ct.contains("json") || ct.contains("xml") || ct.contains("javascript"))
            });
            if binary {
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .map_err(|_| ApiError::bad("The body of a binary response must be base64."))?
            } else {
                if content_type.is_none() {
                    headers.push((
                        HeaderName::from_static("content-type"),
                        HeaderValue::from_static("text/html; charset=UTF-8"),
                    ));
                }
                s.clone().into_bytes()
            }
        }
        Some(other) => {
            if content_type.is_none() {
                headers.push((HeaderName::from_static("content-type"), HeaderValue::from_static("application/json")));
            }
            serde_json::to_vec(other).unwrap_or_default()
        }
    };
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = status;
    for (k, v) in headers {
        r.headers_mut().append(k, v);
    }
    Ok(r)
}
