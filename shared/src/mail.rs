//! Outgoing e-mail, behind one interface: SES v2 in AWS, a directory of files locally (the
//! "outbox" that tests and the README walkthrough read).

use std::path::PathBuf;

use aws_sdk_sesv2::error::ProvideErrorMetadata;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::domain::Email;
use crate::metrics::MailOutcome;

/// One e-mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub to: Email,
    pub subject: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// SES's error code only: its message may name the recipient.
    #[error("SES refused the message ({0})")]
    Ses(String),
    #[error("could not write to the outbox: {0}")]
    Outbox(#[from] std::io::Error),
}

#[derive(Debug, Clone)]
pub enum Mailer {
    Ses {
        client: aws_sdk_sesv2::Client,
        from: String,
    },
    /// One file per message: `<timestamp>-<recipient>.eml`-like plain text with the headers
    /// `To:` and `Subject:`, a blank line, and the body.
    Outbox { dir: PathBuf },
    /// Nothing is configured: messages are logged, not sent.
    Disabled,
}

impl Mailer {
    /// Sends `mail`, counted in the metric `Mails` (`sent` or `failed`; nothing when no mailer
    /// is configured).
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let sent = self.deliver(mail).await;
        if !matches!(self, Self::Disabled) {
            crate::metrics::mail(match sent {
                Ok(()) => MailOutcome::Sent,
                Err(_) => MailOutcome::Failed,
            });
        }
        sent
    }

    async fn deliver(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        match self {
            Self::Ses { client, from } => {
                let content = |text: &str| Content::builder().data(text).charset("UTF-8").build();
                let message = Message::builder()
                    .subject(content(&mail.subject).map_err(|_| MailError::Ses("subject".into()))?)
                    .body(
                        Body::builder()
                            .text(content(&mail.text).map_err(|_| MailError::Ses("body".into()))?)
                            .build(),
                    )
                    .build();
                client
                    .send_email()
                    .from_email_address(from)
                    .destination(
                        Destination::builder()
                            .to_addresses(mail.to.as_str())
                            .build(),
                    )
                    .content(EmailContent::builder().simple(message).build())
                    .send()
                    .await
                    .map_err(|e| MailError::Ses(e.code().unwrap_or("no error code").to_owned()))?;
                Ok(())
            }
            Self::Outbox { dir } => {
                tokio::fs::create_dir_all(dir).await?;
                let name = format!(
                    "{}-{}.txt",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.9fZ"),
                    mail.to.key().replace(
                        |c: char| !c.is_ascii_alphanumeric() && c != '@' && c != '.',
                        "_"
                    )
                );
                let text = format!(
                    "To: {}\nSubject: {}\n\n{}\n",
                    mail.to, mail.subject, mail.text
                );
                tokio::fs::write(dir.join(name), text).await?;
                Ok(())
            }
            Self::Disabled => {
                tracing::warn!("no mailer configured; message not sent");
                Ok(())
            }
        }
    }
}
