// The chart's copies of files kept elsewhere (a chart reads only its own files) match their sources:
// `npm run crds` regenerates them.
import { expect, it } from '@jest/globals';
import { checkChartFiles, chartFiles } from '../../../src/cli/chart-files.js';

it('carries an up-to-date copy of dashboards/rigshift.json', () => {
  expect(chartFiles(process.cwd()).map((f) => f.path)).toContain('helm/rigshift/dashboards/rigshift.json');
  expect(checkChartFiles(process.cwd())).toEqual([]);
});
