//! Which AWS accounts may produce platform events (`PLATFORM_EVENT_PRODUCER_ACCOUNTS`).
//!
//! The bus's policy admits only the producers' principals and the rule only their accounts,
//! but the consumer does not rely on the path alone: a message whose event names another
//! `account` (EventBridge sets it to the account that put the event; a message put on the
//! queue by anyone else can claim anything) is refused before it is read: reported as failed,
//! so that it ends in the dead-letter queue, counted (`PlatformEvents`, `Outcome`
//! `foreign-account`) and logged at WARN with its message id and the account only, nothing of
//! its detail (docs/security.md).

use aws_lambda_events::event::sqs::SqsEvent;

use crate::metrics::{self, PlatformEventOutcome};

/// Splits `batch` into the messages from `allowed` accounts and the ids of the others.
/// `allowed: None` (the variable is not set: local development) admits every account.
pub fn screen(mut batch: SqsEvent, allowed: Option<&[String]>) -> (SqsEvent, Vec<String>) {
    let Some(allowed) = allowed else {
        return (batch, Vec::new());
    };
    let mut refused = Vec::new();
    batch.records.retain(|message| {
        let account = message
            .body
            .as_deref()
            .and_then(|body| serde_json::from_str::<serde_json::Value>(body).ok())
            .and_then(|event| event.get("account")?.as_str().map(str::to_owned));
        let admitted = account
            .as_deref()
            .is_some_and(|account| allowed.iter().any(|a| a == account));
        if !admitted {
            let message_id = message.message_id.clone().unwrap_or_default();
            // An account id is no personal data; the detail (slugs, ids) is not logged.
            tracing::warn!(
                message_id,
                account = account.as_deref().unwrap_or("none"),
                "platform event from an account that is not a producer refused"
            );
            metrics::platform_event(PlatformEventOutcome::ForeignAccount);
            refused.push(message_id);
        }
        admitted
    });
    (batch, refused)
}

/// `PLATFORM_EVENT_PRODUCER_ACCOUNTS`: comma-separated 12-digit account ids.
pub fn parse_accounts(value: &str) -> Result<Vec<String>, String> {
    let accounts: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    if accounts.is_empty() {
        return Err("no account id".to_owned());
    }
    match accounts
        .iter()
        .find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
    {
        Some(bad) => Err(format!("'{bad}' is not a 12-digit AWS account id")),
        None => Ok(accounts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_lists_are_12_digit_ids() {
        assert_eq!(
            parse_accounts("111122223333, 444455556666").unwrap(),
            vec!["111122223333", "444455556666"]
        );
        assert!(parse_accounts("").is_err());
        assert!(parse_accounts("1111-2222-3333").is_err());
    }
}
