//! Native module `stamen._stamen`.
