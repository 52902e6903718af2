//! What the developer tools share with the tests: reading a table's DynamoDB stream (DynamoDB
//! Local supports DescribeStream, GetShardIterator and GetRecords) and handing its records to
//! the event publisher in the shape the Lambda event source mapping delivers them
//! (docs/events.md, "Locally").

pub mod api_front;
pub mod delay_proxy;
pub mod parent;
pub mod stream;
