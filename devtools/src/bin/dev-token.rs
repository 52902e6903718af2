//! Mints an HS256 development token for the local API (verified with `LOCAL_JWT_SECRET`).
//!
//! dev-token [--sub SUB] [--email EMAIL] [--username NAME] [--unverified] [--ttl SECONDS]
//!           [--scope SCOPES] [--groups GROUPS] [--operator]
//!
//! `--operator`: a platform operator's token for `/admin/v1/...`: the scope
//! `organisations/operator` and the group `OPERATOR_GROUP` (default `organisations-operators`)
//! in `cognito:groups`; the function requires both (docs/security.md).

use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("LOCAL_JWT_SECRET").map_err(|_| "LOCAL_JWT_SECRET must be set")?;
    let mut sub = uuid::Uuid::new_v4().to_string();
    let mut email = "dev@example.com".to_owned();
    let mut username = "dev".to_owned();
    let mut verified = true;
    let mut ttl: i64 = 3600;
    let mut scope: Option<String> = None;
    let mut groups: Option<Vec<String>> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--sub" => sub = value()?,
            "--email" => email = value()?,
            "--username" => username = value()?,
            "--ttl" => ttl = value()?.parse()?,
            "--unverified" => verified = false,
            "--scope" => scope = Some(value()?),
            "--groups" => groups = Some(value()?.split([' ', ',']).map(str::to_owned).collect()),
            "--operator" => {
                let operator_scope = "organisations/operator";
                scope = Some(match scope.take() {
                    Some(s) if !s.split(' ').any(|x| x == operator_scope) => {
                        format!("{s} {operator_scope}")
                    }
                    Some(s) => s,
                    None => operator_scope.to_owned(),
                });
                let group = std::env::var("OPERATOR_GROUP")
                    .ok()
                    .filter(|g| !g.is_empty())
                    .unwrap_or_else(|| "organisations-operators".to_owned());
                groups.get_or_insert_with(Vec::new).push(group);
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let claims = json!({
        "sub": sub,
        "email": email,
        "email_verified": verified,
        "preferred_username": username,
        "scope": scope,
        "cognito:groups": groups,
        "iat": chrono::Utc::now().timestamp(),
        "exp": chrono::Utc::now().timestamp() + ttl,
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes())?,
    )?;
    println!("{token}");
    Ok(())
}
