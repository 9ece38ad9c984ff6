import * as core from '@actions/core';

// The post step: removes what the main step recorded in state (issue 7 fills this in).
core.info('memoh-workspace post: nothing recorded');
