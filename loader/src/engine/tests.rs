//! Engine unit tests against [`FakeSys`]: no root needed.
